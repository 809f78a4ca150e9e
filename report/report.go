// Package report writes evaluation artefacts for people: the confusion matrix
// as CSV and as a PNG heat map, and a run's training curves (from its
// TensorBoard events) as PNG. Plots use gonum/plot.
package report

import (
	"encoding/csv"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/tlearn/tlearn/internal/atomicfile"
	"github.com/tlearn/tlearn/tfevents"
)

// WriteConfusionCSV writes the matrix with a header row of predicted classes
// and a first column of true classes: "true\predicted,a,b,...".
func WriteConfusionCSV(path string, classes []string, m [][]int) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".confusion-*.csv")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	w := csv.NewWriter(f)
	w.Write(append([]string{`true\predicted`}, classes...))
	for i, row := range m {
		rec := make([]string, 0, len(row)+1)
		rec = append(rec, classes[i])
		for _, v := range row {
			rec = append(rec, strconv.Itoa(v))
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	data, err := os.ReadFile(f.Name())
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o644)
}

// confusionGrid adapts a row-normalised confusion matrix to plotter.GridXYZ:
// x = predicted class, y = true class (row 0 at the top).
type confusionGrid struct {
	norm [][]float64
}

func (g confusionGrid) Dims() (c, r int)   { return len(g.norm), len(g.norm) }
func (g confusionGrid) Z(c, r int) float64 { return g.norm[len(g.norm)-1-r][c] }
func (g confusionGrid) X(c int) float64    { return float64(c) }
func (g confusionGrid) Y(r int) float64    { return float64(r) }

// WriteConfusionPNG draws the confusion matrix as a heat map, each row
// normalised to its class's count (so the diagonal is per-class recall). The
// image grows with the number of classes so that 101 labels stay legible.
func WriteConfusionPNG(path string, classes []string, m [][]int, title string) error {
	n := len(classes)
	if n == 0 {
		return fmt.Errorf("confusion matrix: no classes")
	}
	norm := make([][]float64, n)
	for i, row := range m {
		norm[i] = make([]float64, n)
		var sum int
		for _, v := range row {
			sum += v
		}
		for j, v := range row {
			if sum > 0 {
				norm[i][j] = float64(v) / float64(sum)
			}
		}
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "predicted class"
	p.Y.Label.Text = "true class"
	pal := palette.Heat(64, 1)
	hm := plotter.NewHeatMap(confusionGrid{norm}, reverse(pal))
	hm.Min, hm.Max = 0, 1
	p.Add(hm)

	// Tick labels: class names, vertical on x; font shrinks for many classes.
	fontSize := vg.Points(10)
	if n > 30 {
		fontSize = vg.Points(7)
	}
	ticksX := make([]plot.Tick, n)
	ticksY := make([]plot.Tick, n)
	for i, c := range classes {
		ticksX[i] = plot.Tick{Value: float64(i), Label: c}
		ticksY[i] = plot.Tick{Value: float64(n - 1 - i), Label: c}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticksX)
	p.Y.Tick.Marker = plot.ConstantTicks(ticksY)
	p.X.Tick.Label.Rotation = math.Pi / 2
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	p.X.Tick.Label.Font.Size = fontSize
	p.Y.Tick.Label.Font.Size = fontSize
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5

	// Annotate cells with their count when there is room.
	if n <= 20 {
		labels := plotter.XYLabels{}
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				if m[i][j] == 0 {
					continue
				}
				labels.XYs = append(labels.XYs, plotter.XY{X: float64(j), Y: float64(n - 1 - i)})
				labels.Labels = append(labels.Labels, strconv.Itoa(m[i][j]))
			}
		}
		if len(labels.XYs) > 0 {
			l, err := plotter.NewLabels(labels)
			if err == nil {
				for i := range l.TextStyle {
					l.TextStyle[i].Color = color.Black
					l.TextStyle[i].XAlign = draw.XCenter
					l.TextStyle[i].YAlign = draw.YCenter
					l.TextStyle[i].Font.Size = fontSize
				}
				p.Add(l)
			}
		}
	}

	cell := vg.Points(18)
	if n > 30 {
		cell = vg.Points(11)
	}
	side := cell*vg.Length(n) + 3*vg.Inch
	if side < 5*vg.Inch {
		side = 5 * vg.Inch
	}
	return savePlot(p, side, side, path)
}

func reverse(p palette.Palette) palette.Palette {
	cs := p.Colors()
	out := make([]color.Color, len(cs))
	for i, c := range cs {
		out[len(cs)-1-i] = c
	}
	return palette.Palette(plainPalette(out))
}

type plainPalette []color.Color

func (p plainPalette) Colors() []color.Color { return p }

// WriteCurvesPNG plots a run's training curves from its TensorBoard events:
// loss (and val/loss), learning rate, and validation top-1/top-5, stacked.
func WriteCurvesPNG(path string, scalars map[string][]tfevents.Point, title string) error {
	panels := []struct {
		title string
		tags  []string
		log   bool
	}{
		{"loss", []string{"loss", "val/loss"}, false},
		{"learning rate", []string{"learning_rate"}, false},
		{"validation accuracy", []string{"val/top1", "val/top5"}, false},
	}
	var plots [][]*plot.Plot
	for _, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.X.Label.Text = "step"
		p.Legend.Top = true
		any := false
		for i, tag := range pn.tags {
			pts := scalars[tag]
			if len(pts) == 0 {
				continue
			}
			xys := make(plotter.XYs, 0, len(pts))
			for _, q := range pts {
				if pn.log && q.Value <= 0 {
					continue
				}
				xys = append(xys, plotter.XY{X: float64(q.Step), Y: q.Value})
			}
			sort.Slice(xys, func(a, b int) bool { return xys[a].X < xys[b].X })
			line, points, err := plotter.NewLinePoints(xys)
			if err != nil {
				return err
			}
			c := plotColors[i%len(plotColors)]
			line.Color, points.Color = c, c
			points.Radius = vg.Points(1.5)
			p.Add(line, points)
			p.Legend.Add(tag, line)
			any = true
		}
		if !any {
			p.Title.Text += " (no data)"
		}
		if pn.title == "validation accuracy" {
			p.Y.Min, p.Y.Max = 0, 1
		}
		if pn.log && any {
			p.Y.Scale = plot.LogScale{}
			p.Y.Tick.Marker = plot.LogTicks{}
		}
		plots = append(plots, []*plot.Plot{p})
	}
	const w, h = 8 * vg.Inch, 9 * vg.Inch
	return saveTiles(plots, w, h, path, title)
}

var plotColors = []color.Color{
	color.RGBA{R: 31, G: 119, B: 180, A: 255},
	color.RGBA{R: 255, G: 127, B: 14, A: 255},
	color.RGBA{R: 44, G: 160, B: 44, A: 255},
}
