package report

import (
	"bytes"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/tlearn/tlearn/internal/atomicfile"
)

func savePlot(p *plot.Plot, w, h vg.Length, path string) error {
	c := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96))}
	p.Draw(draw.New(c))
	return writePNG(c, path)
}

func saveTiles(plots [][]*plot.Plot, w, h vg.Length, path, title string) error {
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96))
	dc := draw.New(img)
	if title != "" {
		top := dc
		top.Min.Y = top.Max.Y - vg.Points(24)
		font := plot.DefaultFont
		font.Size = vg.Points(14)
		top.FillText(draw.TextStyle{Color: color.Black, Font: font, XAlign: draw.XCenter, YAlign: draw.YCenter, Handler: plot.DefaultTextHandler},
			vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: dc.Max.Y - vg.Points(12)}, title)
		dc.Max.Y -= vg.Points(24)
	}
	t := draw.Tiles{Rows: len(plots), Cols: 1, PadX: vg.Points(8), PadY: vg.Points(12), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	canvases := plot.Align(plots, t, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	return writePNG(vgimg.PngCanvas{Canvas: img}, path)
}

func writePNG(c vgimg.PngCanvas, path string) error {
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return fmt.Errorf("render %s: %w", path, err)
	}
	return atomicfile.Write(path, buf.Bytes(), 0o644)
}
