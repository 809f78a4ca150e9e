package export_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/tlearn/tlearn/export"
	"github.com/tlearn/tlearn/imagenorm"
	"github.com/tlearn/tlearn/internal/testenv"
	"github.com/tlearn/tlearn/pipeline"
	"github.com/tlearn/tlearn/rundir"
	"github.com/tlearn/tlearn/tfgraph"
)

const (
	size    = 32
	classes = 5
)

// runDir makes a RUN_DIR holding config.json and one checkpoint of a
// vgg_mini. With images, the model is first fitted for a few steps to give
// image i class i mod 5, so that its top-1 decisions have clear margins (a
// random model's probabilities are all ≈ 1/5, and the few JPEG levels by which
// Go's decoder and libjpeg differ can flip them). It returns the model, open,
// for reference predictions.
func runDir(t *testing.T, style string, images []float32, n int) (string, *tfgraph.Model) {
	t.Helper()
	dir := t.TempDir()
	c := &rundir.Config{Arch: "vgg_mini", InputSize: size}
	for i := 0; i < classes; i++ {
		c.Classes = append(c.Classes, "class_"+string(rune('a'+i)))
	}
	c.Preprocess.Style = style
	c.Preprocess.Means = pipeline.VGGMeans
	if err := rundir.WriteConfig(dir, c); err != nil {
		t.Fatal(err)
	}
	cfg := tfgraph.DefaultConfig("vgg_mini", classes)
	cfg.InputSize, cfg.Seed, cfg.Device, cfg.DropoutKeep, cfg.WeightDecay = size, 3, "cpu", 1, 0
	cfg.LearningRate, cfg.Trainable = 0.01, "head"
	m, err := tfgraph.NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	// Fit until every image gets its label, on copies with ±4 levels of
	// noise: a model this small, overfitted to 9 images, is otherwise so
	// sensitive that the ~1 level by which Go's JPEG decoder and libjpeg
	// differ flips its decisions, which would test the model, not the export.
	const copies = 4
	labels := make([]int32, n*copies)
	for i := range labels {
		labels[i] = int32(i % n % classes)
	}
	noisy := make([]float32, len(images)*copies)
	rng := rand.New(rand.NewPCG(5, 5))
	for step := 0; images != nil && step < 400; step++ {
		if step%10 == 0 {
			ev, err := m.Evaluate(images, labels, n)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Top1 == n && step >= 50 {
				t.Logf("fitted in %d steps: loss %.3f", step, ev.Loss)
				break
			}
		}
		for k := range noisy {
			noisy[k] = images[k%len(images)] + float32(rng.IntN(9)-4)
		}
		if _, err := m.TrainStep(noisy, labels, n*copies); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.SaveCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	return dir, m
}

// jpegs writes JPEGs of several sizes and aspect ratios (landscape, portrait,
// square, upscaled, downscaled) plus the pipeline's real photo.
// scale multiplies the sizes (to exercise downscaling in the vgg style).
func jpegs(t *testing.T, scale int) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i, wh := range [][2]int{{48, 40}, {40, 64}, {32, 32}, {100, 70}, {25, 31}, {75, 75}, {160, 90}, {57, 120}} {
		wh[0], wh[1] = wh[0]*scale, wh[1]*scale
		r := rand.New(rand.NewPCG(uint64(i), 9))
		img := image.NewRGBA(image.Rect(0, 0, wh[0], wh[1]))
		c0 := [3]float64{r.Float64() * 255, r.Float64() * 255, r.Float64() * 255}
		c1 := [3]float64{r.Float64() * 255, r.Float64() * 255, r.Float64() * 255}
		fx, fy := 2+r.Float64()*6, 2+r.Float64()*6
		for y := 0; y < wh[1]; y++ {
			for x := 0; x < wh[0]; x++ {
				a := 0.5 + 0.5*math.Sin(fx*float64(x)/float64(wh[0])+fy*float64(y)/float64(wh[1]))
				img.Set(x, y, color.RGBA{uint8(c0[0]*a + c1[0]*(1-a)), uint8(c0[1]*a + c1[1]*(1-a)), uint8(c0[2]*a + c1[2]*(1-a)), 255})
			}
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "img"+string(rune('0'+i))+".jpg")
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return append(paths, filepath.Join(testenv.ModuleRoot(t), "pipeline", "testdata", "golden", "photo.jpg"))
}

// preprocess runs the Go pipeline's evaluation preprocessing, as predict does.
func preprocess(t *testing.T, paths []string, style string) []float32 {
	t.Helper()
	pre := pipeline.Preprocess{InputSize: size, Style: pipeline.Style(style), Norm: imagenorm.MeanSubtract}
	x := make([]float32, len(paths)*pre.Size())
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// DecodeApply, as the loader of `tlearn predict`: large JPEGs
		// decode at reduced DCT scale in the libjpeg build.
		if err := pre.DecodeApply(b, pipeline.Eval, nil, x[i*pre.Size():]); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

func maxAbsDiff(a, b [][]float32) float64 {
	d := 0.0
	for i := range a {
		for j := range a[i] {
			d = math.Max(d, math.Abs(float64(a[i][j])-float64(b[i][j])))
		}
	}
	return d
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

// TestSavedModel exports a run and checks the export against the model in Go
// (C++ SavedModel loader) and in Python TensorFlow (tf.saved_model.load,
// saved_model_cli).
func TestSavedModel(t *testing.T) {
	for _, style := range []string{"crop", "vgg"} {
		t.Run(style, func(t *testing.T) { testSavedModel(t, style) })
	}
}

func testSavedModel(t *testing.T, style string) {
	scale := 1
	if style == "vgg" {
		scale = 4
	}
	paths := jpegs(t, scale)
	n := len(paths)
	x := preprocess(t, paths, style)
	run, m := runDir(t, style, x, n)
	out := filepath.Join(t.TempDir(), "export")
	if err := export.SavedModel(context.Background(), run, out); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"saved_model.pb", "variables/variables.index", "variables/variables.data-00000-of-00001", "assets/classes.txt"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("export lacks %s: %v", f, err)
		}
	}
	want, err := m.Predict(x, n)
	if err != nil {
		t.Fatal(err)
	}

	// (a) Go, through TensorFlow's C++ SavedModel loader.
	s, err := tfgraph.OpenSavedModel(out, tfgraph.ServeOptions{Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.InputSize() != size || strings.Join(s.Classes(), ",") != "class_a,class_b,class_c,class_d,class_e" {
		t.Errorf("served: input %d, classes %v", s.InputSize(), s.Classes())
	}
	got, err := s.Predict(x, n)
	if err != nil {
		t.Fatal(err)
	}
	d := maxAbsDiff(got, want)
	t.Logf("Go: serving_float vs Model.Predict: max abs diff %.3g", d)
	if d > 1e-5 {
		t.Errorf("Go: serving_float differs from Model.Predict by %g (tolerance 1e-5)", d)
	}
	var encoded [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		encoded = append(encoded, b)
	}
	goBytes, err := s.PredictEncoded(encoded)
	if err != nil {
		t.Fatal(err)
	}

	// (b) Python TensorFlow.
	pixFile := filepath.Join(t.TempDir(), "pixels.f32")
	var py struct {
		Signatures   []string    `json:"signatures"`
		Assets       []string    `json:"assets"`
		FloatProbs   [][]float32 `json:"float_probabilities"`
		BytesProbs   [][]float32 `json:"bytes_probabilities"`
		BytesClasses []int       `json:"bytes_classes"`
		RefClasses   []int       `json:"reference_classes"`
	}
	args := append([]string{"--images", testenv.Float32File(t, x), "--n", itoa(n), "--size", itoa(size), "--style", style,
		"--pixels-out", pixFile, "--encoded"}, paths...)
	testenv.SavedModelCheck(t, out, &py, args...)
	if strings.Join(py.Signatures, ",") != "serving_default,serving_float" {
		t.Errorf("python: signatures %v", py.Signatures)
	}
	if strings.Join(py.Assets, ",") != "classes.txt" {
		t.Errorf("python: assets %v", py.Assets)
	}
	d = maxAbsDiff(py.FloatProbs, want)
	t.Logf("Python: serving_float vs Go Model.Predict: max abs diff %.3g", d)
	if d > 1e-5 {
		t.Errorf("Python: serving_float differs from Go's Model.Predict by %g (tolerance 1e-5)", d)
	}
	d = maxAbsDiff(py.BytesProbs, goBytes)
	t.Logf("Python vs Go: serving_default probabilities: max abs diff %.3g", d)
	if d > 1e-5 {
		t.Errorf("serving_default: Python and Go differ by %g", d)
	}
	// The preprocessing itself: Go pipeline vs the documented TF ops (the
	// in-graph path is those ops: reference_classes == bytes_classes below).
	// They differ only by the JPEG decoders (Go vs libjpeg-turbo), about a
	// level on average.
	raw, err := os.ReadFile(pixFile)
	if err != nil {
		t.Fatal(err)
	}
	ref := unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), len(raw)/4)
	per := size * size * 3
	for i := range paths {
		var sum, mx float64
		for j := i * per; j < (i+1)*per; j++ {
			d := math.Abs(float64(ref[j]) - float64(x[j]))
			sum += d
			mx = math.Max(mx, d)
		}
		t.Logf("%s: pixels Go pipeline vs TF ops: mean |Δ| %.3f, max |Δ| %.2f levels", filepath.Base(paths[i]), sum/float64(per), mx)
		if sum/float64(per) > 2 {
			t.Errorf("%s: Go pipeline and the TF preprocessing differ by %.2f levels on average", paths[i], sum/float64(per))
		}
	}

	agree := 0
	for i := range paths {
		goTop := argmax(want[i])
		p := append([]float32(nil), want[i]...)
		p[goTop] = -1
		margin := want[i][goTop] - p[argmax(p)]
		t.Logf("%s: Go pipeline top-1 %d (margin %.4f), serving_default %d, Python-ops reference %d, max |Δp| %.3g",
			filepath.Base(paths[i]), goTop, margin, py.BytesClasses[i], py.RefClasses[i], maxAbsDiff(py.BytesProbs[i:i+1], want[i:i+1]))
		if py.BytesClasses[i] == goTop {
			agree++
		} else {
			t.Errorf("%s: serving_default top-1 %d, tlearn predict (Go pipeline) %d", paths[i], py.BytesClasses[i], goTop)
		}
		if py.BytesClasses[i] != py.RefClasses[i] {
			t.Errorf("%s: serving_default top-1 %d, the documented TF ops in Python %d", paths[i], py.BytesClasses[i], py.RefClasses[i])
		}
	}
	t.Logf("top-1 agreement serving_default vs Go pipeline: %d/%d", agree, n)

	cli := filepath.Join(filepath.Dir(testenv.Python(t)), "saved_model_cli")
	cmd := exec.Command(cli, "show", "--dir", out, "--all")
	cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=2", "CUDA_VISIBLE_DEVICES=")
	co, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("saved_model_cli: %v\n%s", err, co)
	}
	for _, want := range []string{"signature_def['serving_default']", "signature_def['serving_float']", "image_bytes", "probabilities", "classes"} {
		if !strings.Contains(string(co), want) {
			t.Errorf("saved_model_cli show --all lacks %q:\n%s", want, co)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestSavedModelErrors(t *testing.T) {
	run, _ := runDir(t, "crop", nil, 0)
	base := t.TempDir()
	ctx := context.Background()

	// Into a non-empty directory: refused, the directory untouched.
	full := filepath.Join(base, "full")
	os.Mkdir(full, 0o755)
	os.WriteFile(filepath.Join(full, "mine.txt"), []byte("keep"), 0o644)
	err := export.SavedModel(ctx, run, full)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("export into a non-empty dir: err %v", err)
	}
	if ents, _ := os.ReadDir(full); len(ents) != 1 {
		t.Errorf("non-empty dir was modified: %v", ents)
	}

	// From a directory that is no run: the message names config.json.
	notRun := t.TempDir()
	out := filepath.Join(base, "out1")
	err = export.SavedModel(ctx, notRun, out)
	if err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("RUN_DIR without config.json: err %v", err)
	}

	// A run without a checkpoint.
	noCkpt := t.TempDir()
	c, _ := rundir.ReadConfig(run)
	rundir.WriteConfig(noCkpt, c)
	err = export.SavedModel(ctx, noCkpt, out)
	if err == nil || !strings.Contains(err.Error(), "no checkpoint") {
		t.Errorf("RUN_DIR without checkpoint: err %v", err)
	}

	// A cancelled context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := export.SavedModel(cctx, run, out); err == nil {
		t.Error("cancelled context: no error")
	}

	// Nothing written anywhere but the untouched "full".
	if ents, _ := os.ReadDir(base); len(ents) != 1 || ents[0].Name() != "full" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("failed exports left %v in %s", names, base)
	}
}
