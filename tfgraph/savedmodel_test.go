package tfgraph

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/imagenorm"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// smModel is a vgg_mini at 32 px with random (seeded) weights: exporting
// needs no training.
func smModel(t testing.TB, classes int) *Model {
	t.Helper()
	m, err := NewModel(Config{Arch: "vgg_mini", NumClasses: classes, InputSize: 32, Seed: 7, ForInference: true, Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func smClasses(n int) []string {
	c := make([]string, n)
	for i := range c {
		c[i] = "class_" + string(rune('a'+i))
	}
	return c
}

// smBatch is n preprocessed-looking images: RGB 0..255 minus the means.
func smBatch(n, size int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*size*size*3)
	for i := range x {
		x[i] = float32(r.IntN(256)) - imagenorm.MeanSubtract.Mean[i%3]
	}
	return x
}

func maxAbsDiff(a, b [][]float32) float64 {
	d := 0.0
	for i := range a {
		for j := range a[i] {
			d = math.Max(d, math.Abs(float64(a[i][j]-b[i][j])))
		}
	}
	return d
}

// exportAndOpen exports m with classes into a temp dir and opens the
// SavedModel on the CPU (closed at the test's end).
func exportAndOpen(t testing.TB, m *Model, classes []string) *Served {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sm")
	if err := m.ExportSavedModel(dir, ExportOptions{Classes: classes}); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSavedModel(dir, ServeOptions{Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// checkServed: the served float signature's probabilities for the first n
// images of x equal m.Predict's within 1e-5.
func checkServed(t testing.TB, s *Served, m *Model, x []float32, n int, what string) {
	t.Helper()
	want, err := m.Predict(x, n)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Predict(x, n)
	if err != nil {
		t.Fatal(err)
	}
	d := maxAbsDiff(got, want)
	t.Logf("%s vs Model.Predict: max abs diff %.3g", what, d)
	if d > 1e-5 {
		t.Errorf("%s differs from Model.Predict by %g", what, d)
	}
}

func argmax(p []float32) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

// smJPEG encodes a w×h image with smooth random colour blobs.
func smJPEG(t testing.TB, w, h int, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	cx, cy := r.Float64()*float64(w), r.Float64()*float64(h)
	c0 := [3]float64{r.Float64() * 255, r.Float64() * 255, r.Float64() * 255}
	c1 := [3]float64{r.Float64() * 255, r.Float64() * 255, r.Float64() * 255}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			d := math.Hypot(float64(x)-cx, float64(y)-cy) / float64(max(w, h))
			a := 0.5 + 0.5*math.Cos(d*12)
			var c [3]uint8
			for k := range c {
				c[k] = uint8(c0[k]*a + c1[k]*(1-a))
			}
			img.Set(x, y, color.RGBA{c[0], c[1], c[2], 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestSavedModelRoundTrip(t *testing.T) {
	const C = 5
	m := smModel(t, C)
	s := exportAndOpen(t, m, smClasses(C))
	if s.InputSize() != 32 || s.NumClasses() != C || s.Classes()[2] != "class_c" {
		t.Errorf("InputSize %d, classes %v", s.InputSize(), s.Classes())
	}
	checkServed(t, s, m, smBatch(4, 32, 1), 4, "float signature")

	imgs := [][]byte{smJPEG(t, 40, 32, 1), smJPEG(t, 33, 61, 2), smJPEG(t, 32, 32, 3)}
	p, err := s.PredictEncoded(imgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 3 || len(p[0]) != C {
		t.Fatalf("bytes signature: shape %d×%d", len(p), len(p[0]))
	}
	_, err = s.PredictEncoded([][]byte{[]byte("not an image")})
	if err == nil || !strings.Contains(err.Error(), "predict") {
		t.Errorf("garbage bytes: err %v", err)
	}
}

func TestSavedModelErrors(t *testing.T) {
	m := smModel(t, 3)
	base := t.TempDir()

	full := filepath.Join(base, "full")
	os.MkdirAll(full, 0o755)
	os.WriteFile(filepath.Join(full, "keep.txt"), []byte("x"), 0o644)
	err := m.ExportSavedModel(full, ExportOptions{Classes: smClasses(3)})
	if !errors.Is(err, ErrExportDirNotEmpty) {
		t.Errorf("non-empty dir: err %v, want ErrExportDirNotEmpty", err)
	}
	if err := m.ExportSavedModel(filepath.Join(base, "bad"), ExportOptions{Classes: smClasses(2)}); err == nil {
		t.Error("2 class names for 3 classes: no error")
	}
	ents, _ := os.ReadDir(base)
	if len(ents) != 1 {
		t.Errorf("failed exports left files: %v", ents)
	}
	left, _ := os.ReadDir(full)
	if len(left) != 1 {
		t.Errorf("non-empty target was modified: %v", left)
	}

	empty := filepath.Join(base, "empty")
	os.Mkdir(empty, 0o755)
	if err := m.ExportSavedModel(empty, ExportOptions{Classes: smClasses(3)}); err != nil {
		t.Errorf("existing empty dir: %v", err)
	}

	if _, err := OpenSavedModel(base, ServeOptions{}); err == nil || !strings.Contains(err.Error(), "saved_model.pb") {
		t.Errorf("open a non-SavedModel: %v", err)
	}
	// A SavedModel without tlearn's float signature, as another tool writes.
	other := filepath.Join(base, "other")
	if err := m.ExportSavedModel(other, ExportOptions{Classes: smClasses(3)}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(other, "saved_model.pb"))
	if err != nil {
		t.Fatal(err)
	}
	var sm pb.SavedModel
	if err := proto.Unmarshal(raw, &sm); err != nil {
		t.Fatal(err)
	}
	delete(sm.MetaGraphs[0].SignatureDef, SignatureFloat)
	raw, _ = proto.Marshal(&sm)
	os.WriteFile(filepath.Join(other, "saved_model.pb"), raw, 0o644)
	_, err = OpenSavedModel(other, ServeOptions{Device: "cpu"})
	if err == nil || !strings.Contains(err.Error(), `no signature "serving_float"`) || !strings.Contains(err.Error(), "serving_default") {
		t.Errorf("open a SavedModel without serving_float: %v", err)
	}

	os.Remove(filepath.Join(empty, "assets", ClassesAsset))
	if _, err := OpenSavedModel(empty, ServeOptions{Device: "cpu"}); err == nil || !strings.Contains(err.Error(), ClassesAsset) {
		t.Errorf("open without classes asset: %v", err)
	}
}
