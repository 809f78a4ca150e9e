package report

import (
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/tfevents"
)

func TestConfusionCSV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "confusion.csv")
	if err := WriteConfusionCSV(path, []string{"cat", "dog"}, [][]int{{3, 1}, {0, 2}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := "true\\predicted,cat,dog\ncat,3,1\ndog,0,2\n"
	if string(b) != want {
		t.Fatalf("csv:\n%s\nwant:\n%s", b, want)
	}
}

func TestPNGsRender(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{3, 101} {
		classes := make([]string, n)
		m := make([][]int, n)
		for i := range classes {
			classes[i] = fmt.Sprintf("class_%03d_name", i)
			m[i] = make([]int, n)
			m[i][i] = 5
			m[i][(i+1)%n] = 1
		}
		path := filepath.Join(dir, fmt.Sprintf("confusion-%d.png", n))
		if err := WriteConfusionPNG(path, classes, m, "confusion"); err != nil {
			t.Fatal(err)
		}
		f, _ := os.Open(path)
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s is not a PNG: %v", path, err)
		}
		if n == 101 && cfg.Width < 1500 {
			t.Errorf("101-class heat map is only %d px wide: labels would not be legible", cfg.Width)
		}
	}
	sc := map[string][]tfevents.Point{
		"loss":          {{Step: 10, Value: 2}, {Step: 20, Value: 1}},
		"learning_rate": {{Step: 10, Value: 1e-3}, {Step: 20, Value: 5e-4}},
		"val/top1":      {{Step: 20, Value: 0.5}},
	}
	if err := WriteCurvesPNG(filepath.Join(dir, "curves.png"), sc, "run"); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("TLEARN_KEEP_PNG") != "" {
		for _, f := range []string{"confusion-3.png", "confusion-101.png", "curves.png"} {
			b, _ := os.ReadFile(filepath.Join(dir, f))
			os.WriteFile(filepath.Join(os.Getenv("TLEARN_KEEP_PNG"), f), b, 0o644)
		}
	}
	_ = strings.Contains
}
