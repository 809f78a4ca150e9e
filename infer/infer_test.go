package infer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/imagenorm"
	"github.com/tlearn/tlearn/internal/testdata"
	"github.com/tlearn/tlearn/internal/testenv"
	"github.com/tlearn/tlearn/pipeline"
	"github.com/tlearn/tlearn/rundir"
	"github.com/tlearn/tlearn/tfgraph"
)

// colourClassifier is a stand-in model with known answers: it predicts the
// channel (R, G or B) with the largest mean over the image, probability 1.
type colourClassifier struct{ size int }

func (c colourClassifier) Classes() []string { return []string{"class_a", "class_b", "class_c"} }
func (c colourClassifier) Preprocess() pipeline.Preprocess {
	return pipeline.Preprocess{InputSize: c.size, Style: pipeline.StyleCrop, Norm: imagenorm.MeanSubtract}
}
func (c colourClassifier) Close() error { return nil }
func (c colourClassifier) Predict(images []float32, n int) ([][]float32, error) {
	px := c.size * c.size
	out := make([][]float32, n)
	for i := range out {
		var sum [3]float64
		img := images[i*px*3 : (i+1)*px*3]
		for p := 0; p < px; p++ {
			for ch := 0; ch < 3; ch++ {
				sum[ch] += float64(img[p*3+ch] + pipeline.VGGMeans[ch])
			}
		}
		best := 0
		for ch := 1; ch < 3; ch++ {
			if sum[ch] > sum[best] {
				best = ch
			}
		}
		out[i] = make([]float32, 3)
		out[i][best] = 1
	}
	return out, nil
}

// TestEvalMatchesHandComputedConfusion: class_a images are red, class_b green,
// class_c blue; two blue images are filed under class_a and one red under
// class_c. The colour classifier's confusion matrix is then known by hand.
func TestEvalMatchesHandComputedConfusion(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	testdata.Folders(t, data, 3, 4, 24, 3) // 4 per class, correctly coloured
	// Mislabel: 2 blue images into class_a, 1 red image into class_c.
	move := func(from, to string) {
		if err := os.Rename(filepath.Join(data, from), filepath.Join(data, to)); err != nil {
			t.Fatal(err)
		}
	}
	move("class_c/img-00.png", "class_a/blue-00.png")
	move("class_c/img-01.jpg", "class_a/blue-01.jpg")
	move("class_a/img-02.png", "class_c/red-02.png")
	// Now: class_a has 3 red + 2 blue, class_b 4 green, class_c 2 blue + 1 red.
	r, err := Evaluate(context.Background(), colourClassifier{size: 16}, data, EvalOptions{Batch: 4, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{
		{3, 0, 2}, // class_a: 3 → a, 2 → c
		{0, 4, 0},
		{1, 0, 2}, // class_c: 1 → a, 2 → c
	}
	for i := range want {
		for j := range want[i] {
			if r.Confusion[i][j] != want[i][j] {
				t.Fatalf("confusion = %v, want %v", r.Confusion, want)
			}
		}
	}
	if r.N != 12 || r.Failed != 0 {
		t.Errorf("n=%d failed=%d, want 12, 0", r.N, r.Failed)
	}
	if got, want := r.Top1, 9.0/12; got != want {
		t.Errorf("top1 = %v, want %v", got, want)
	}
	// Top-5 over 3 classes: every true class is within the top 3 → 1.
	if r.Top5 != 1 {
		t.Errorf("top5 = %v, want 1", r.Top5)
	}
	checks := []struct {
		class     string
		precision float64
		recall    float64
		n         int
	}{
		{"class_a", 3.0 / 4, 3.0 / 5, 5},
		{"class_b", 1, 1, 4},
		{"class_c", 2.0 / 4, 2.0 / 3, 3},
	}
	for _, c := range checks {
		s := r.PerClass[c.class]
		if s.N != c.n || s.Precision != c.precision || s.Recall != c.recall {
			t.Errorf("%s: %+v, want precision %v recall %v n %d", c.class, s, c.precision, c.recall, c.n)
		}
	}
}

// newRunDir writes a RUN_DIR with a freshly initialised vgg_mini (no
// training needed to test the plumbing).
func newRunDir(t *testing.T, classes []string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	os.MkdirAll(dir, 0o755)
	m, err := tfgraph.NewModel(tfgraph.Config{Arch: "vgg_mini", NumClasses: len(classes), InputSize: 32, Seed: 3, DropoutKeep: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.SaveCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	c := &rundir.Config{Arch: "vgg_mini", InputSize: 32, Classes: classes}
	c.Preprocess.Style = "crop"
	if err := rundir.WriteConfig(dir, c); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPredictAnswersEveryFileOnce(t *testing.T) {
	classes := []string{"class_a", "class_b", "class_c"}
	run := newRunDir(t, classes)
	imgs := filepath.Join(t.TempDir(), "imgs")
	testdata.Folders(t, imgs, 3, 5, 30, 4) // 15 good images in sub-folders
	bad := map[string]string{
		"empty.jpg":     "",
		"text.jpg":      "this is not an image",
		"truncated.png": "\x89PNG\r\n\x1a\n\x00\x00",
	}
	for name, content := range bad {
		os.WriteFile(filepath.Join(imgs, name), []byte(content), 0o644)
	}
	os.WriteFile(filepath.Join(imgs, "notes.txt"), []byte("not an image name: ignored"), 0o644)

	clf, err := Open(OpenOptions{Model: run})
	if err != nil {
		t.Fatal(err)
	}
	defer clf.Close()
	seen := map[string]int{}
	var errs []string
	sum, err := Predict(context.Background(), clf, []string{imgs}, PredictOptions{TopK: 2, Batch: 4, Workers: 2}, func(p Prediction) error {
		seen[p.Path]++
		if p.Error != "" {
			errs = append(errs, filepath.Base(p.Path))
			return nil
		}
		if len(p.Predictions) != 2 || p.Predictions[0].Probability < p.Predictions[1].Probability {
			t.Errorf("%s: predictions %+v, want 2 in descending order", p.Path, p.Predictions)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Images != 15 || sum.Failed != 3 {
		t.Errorf("summary %+v, want 15 images and 3 failed", sum)
	}
	// The input-wait gauge: a part of the elapsed time, as a fraction.
	if sum.Elapsed <= 0 || sum.InputWait < 0 || sum.InputWait > sum.Elapsed || sum.InputWaitFraction() != sum.InputWait.Seconds()/sum.Elapsed.Seconds() {
		t.Errorf("input wait %v of elapsed %v (fraction %v) inconsistent", sum.InputWait, sum.Elapsed, sum.InputWaitFraction())
	}
	if len(seen) != 18 {
		t.Errorf("%d distinct paths answered, want 18", len(seen))
	}
	for p, n := range seen {
		if n != 1 {
			t.Errorf("%s answered %d times", p, n)
		}
	}
	sort.Strings(errs)
	if want := []string{"empty.jpg", "text.jpg", "truncated.png"}; len(errs) != 3 || errs[0] != want[0] || errs[1] != want[1] || errs[2] != want[2] {
		t.Errorf("error answers for %v, want %v", errs, want)
	}
}

func TestPredictRunDirMatchesModel(t *testing.T) {
	classes := []string{"x", "y"}
	run := newRunDir(t, classes)
	clf, err := Open(OpenOptions{Model: run, Checkpoint: "latest"})
	if err != nil {
		t.Fatal(err)
	}
	defer clf.Close()
	imgs := make([]float32, 2*32*32*3)
	for i := range imgs {
		imgs[i] = float32(i%97) - 48
	}
	got, err := clf.Predict(imgs, 2)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := tfgraph.NewModel(tfgraph.Config{Arch: "vgg_mini", NumClasses: 2, InputSize: 32, ForInference: true})
	defer m.Close()
	ckpt, _ := tfgraph.LatestCheckpoint(run)
	if err := m.RestoreCheckpoint(ckpt); err != nil {
		t.Fatal(err)
	}
	want, _ := m.Predict(imgs, 2)
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("RUN_DIR classifier %v != restored model %v", got, want)
			}
		}
	}
}

func TestOpenErrors(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name string
		opts OpenOptions
		want string
	}{
		{"nothing", OpenOptions{}, "which model"},
		{"both", OpenOptions{Model: "a", Weights: "b", Labels: "c"}, "not both"},
		{"not a run dir", OpenOptions{Model: empty}, "not a tlearn run directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.opts)
			if err == nil || !contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestPrecisionBF16 runs the same RUN_DIR in bf16 (oneDNN auto mixed
// precision): probabilities stay within bfloat16's precision of fp32's, and an
// unknown precision is refused.
func TestPrecisionBF16(t *testing.T) {
	run := newRunDir(t, []string{"x", "y", "z"})
	imgs := make([]float32, 4*32*32*3)
	for i := range imgs {
		imgs[i] = float32(i%89)*0.5 - 20
	}
	predict := func(precision string) [][]float32 {
		clf, err := Open(OpenOptions{Model: run, Checkpoint: "latest", Precision: precision})
		if err != nil {
			t.Fatal(err)
		}
		defer clf.Close()
		p, err := clf.Predict(imgs, 4)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	fp32, bf16 := predict("fp32"), predict("bf16")
	for i := range fp32 {
		for j := range fp32[i] {
			// bfloat16 keeps 8 mantissa bits; through 19 layers the error
			// compounds, so allow 0.05 absolute on probabilities.
			if d := fp32[i][j] - bf16[i][j]; d > 0.05 || d < -0.05 {
				t.Errorf("image %d class %d: fp32 %.4f, bf16 %.4f", i, j, fp32[i][j], bf16[i][j])
			}
		}
	}
	if _, err := Open(OpenOptions{Model: run, Precision: "fp8"}); err == nil || !strings.Contains(err.Error(), "precision") {
		t.Errorf("precision fp8: err = %v, want a precision error", err)
	}
}

// TestConvAlgorithm: the same RUN_DIR with every 3×3 conv as Winograd
// predicts what direct convolution predicts (within float32 rounding); an
// unknown algorithm is refused, and so is Winograd for a SavedModel, whose
// graph is fixed at export.
func TestConvAlgorithm(t *testing.T) {
	classes := []string{"x", "y", "z"}
	run := newRunDir(t, classes)
	imgs := make([]float32, 3*32*32*3)
	for i := range imgs {
		imgs[i] = float32(i%97)*2 - 90
	}
	predict := func(conv string) [][]float32 {
		clf, err := Open(OpenOptions{Model: run, Checkpoint: "latest", Conv: conv})
		if err != nil {
			t.Fatal(err)
		}
		defer clf.Close()
		p, err := clf.Predict(imgs, 3)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	direct, wino := predict(tfgraph.ConvDirect), predict(tfgraph.ConvWinograd)
	for i := range direct {
		for j := range direct[i] {
			// Winograd's rounding is ~1e-5 of the logits' magnitude.
			if d := direct[i][j] - wino[i][j]; d > 2e-4 || d < -2e-4 {
				t.Errorf("image %d class %d: direct %.7f, winograd %.7f", i, j, direct[i][j], wino[i][j])
			}
		}
	}
	if _, err := Open(OpenOptions{Model: run, Conv: "fft"}); err == nil || !strings.Contains(err.Error(), "conv algorithm") {
		t.Errorf("conv fft: err = %v, want a conv algorithm error", err)
	}

	m, err := tfgraph.NewModel(tfgraph.Config{Arch: "vgg_mini", NumClasses: len(classes), InputSize: 32, ForInference: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sm := filepath.Join(t.TempDir(), "saved")
	if err := m.ExportSavedModel(sm, tfgraph.ExportOptions{Classes: classes}); err != nil {
		t.Fatal(err)
	}
	var ue *UsageError
	if _, err := Open(OpenOptions{Model: sm, Conv: tfgraph.ConvWinograd}); !errors.As(err, &ue) {
		t.Errorf("SavedModel with conv winograd: err = %v, want a UsageError", err)
	}
	clf, err := Open(OpenOptions{Model: sm, Conv: tfgraph.ConvAuto})
	if err != nil {
		t.Fatalf("SavedModel with conv auto: %v", err)
	}
	clf.Close()
}

// TestCheckpointBackgroundClass: a checkpoint whose head has 1001 outputs
// (background class 0, as TF-Slim's MobileNet and resnet_v2 checkpoints;
// here random weights and batch-norm statistics that
// scripts/mobilenet_reference.py writes with TensorFlow, with TensorFlow's
// logits) predicts with a 1001-line labels file as the 1001-way softmax, and
// with a 1000-line one as the softmax over logits 1..1000 (label i names
// logit i+1); other counts are refused by the checkpoint's head shape.
func TestCheckpointBackgroundClass(t *testing.T) {
	const arch, size = "mobilenet_v1", 32
	dir := t.TempDir()
	testenv.RunPython(t, filepath.Join(testenv.ModuleRoot(t), "scripts", "mobilenet_reference.py"), "--out", dir, "--arch", arch,
		"--input-size", strconv.Itoa(size), "--batch", "2", "--classes", "1001", "--formats", "v2")
	imgs, logits := readF32(t, filepath.Join(dir, "input.f32")), readF32(t, filepath.Join(dir, "logits.f32"))
	labels := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "class %d\n", i)
		}
		p := filepath.Join(t.TempDir(), "labels.txt")
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	open := func(n int) (Classifier, error) {
		return Open(OpenOptions{Arch: arch, Weights: filepath.Join(dir, "ckpt_v2"), Labels: labels(n), InputSize: size, Device: "cpu"})
	}
	for _, n := range []int{1001, 1000} {
		clf, err := open(n)
		if err != nil {
			t.Fatalf("%d labels: %v", n, err)
		}
		got, err := clf.Predict(imgs, 2)
		clf.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(clf.Classes()) != n || len(got[0]) != n {
			t.Fatalf("%d labels: %d classes, %d probabilities", n, len(clf.Classes()), len(got[0]))
		}
		for i := range got {
			row := logits[i*1001 : (i+1)*1001]
			want := softmax(row[1001-n:])
			worst := 0.0
			for j, p := range got[i] {
				worst = math.Max(worst, math.Abs(float64(p-want[j]))/float64(want[j]))
			}
			t.Logf("%d labels, image %d: top class %d, max relative difference from TensorFlow's logits' softmax %.3g", n, i, argmax(got[i]), worst)
			if worst > 1e-3 || argmax(got[i]) != argmax(want) {
				t.Errorf("%d labels, image %d: top %d (TensorFlow %d), relative difference %g", n, i, argmax(got[i]), argmax(want), worst)
			}
		}
	}
	if _, err := open(999); err == nil || !strings.Contains(err.Error(), "999 labels") || !strings.Contains(err.Error(), "1001") {
		t.Errorf("999 labels for a 1001-output head: %v", err)
	} else {
		t.Log(err)
	}
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
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
