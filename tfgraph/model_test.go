package tfgraph

import (
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tlearn/tlearn/tfgraph/nets"
	"github.com/tlearn/tlearn/tfgraph/slim"
)

func miniConfig() Config {
	c := DefaultConfig("vgg_mini", 5)
	c.InputSize = 64
	c.DecaySteps = 100
	c.Seed = 7
	c.IntraOpThreads = 2
	c.InterOpThreads = 1
	return c
}

func randomBatch(n, size int, classes int, seed int64) ([]float32, []int32) {
	r := rand.New(rand.NewSource(seed))
	img := make([]float32, n*size*size*3)
	for i := range img {
		img[i] = float32(r.NormFloat64())
	}
	lab := make([]int32, n)
	for i := range lab {
		lab[i] = int32(r.Intn(classes))
	}
	return img, lab
}

// resumedCopy saves m's checkpoint and restores it into a new model of cfg,
// as a resumed run does.
func resumedCopy(t testing.TB, m *Model, cfg Config) *Model {
	t.Helper()
	dir := t.TempDir()
	if _, err := m.SaveCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	m2 := newModel(t, cfg)
	if err := m2.RestoreCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	return m2
}

func newModel(t testing.TB, cfg Config) *Model {
	t.Helper()
	m, err := NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestVariablesNamesAndShapes(t *testing.T) {
	for _, tc := range []struct {
		arch  string
		n     int
		first string
		fc6   []int64
	}{
		{"vgg_19", 38, "vgg_19/conv1/conv1_1/weights", []int64{7, 7, 512, 4096}},
		{"vgg_16", 32, "vgg_16/conv1/conv1_1/weights", []int64{7, 7, 512, 4096}},
	} {
		vs := buildVars(t, tc.arch, 224, 1000)
		if len(vs) != tc.n {
			t.Errorf("%s: %d variables, want %d", tc.arch, len(vs), tc.n)
		}
		if vs[0].Name != tc.first {
			t.Errorf("%s: first variable %s, want %s", tc.arch, vs[0].Name, tc.first)
		}
		if got := vs[len(vs)-6]; got.Name != tc.arch+"/fc6/weights" || !slices.Equal(got.Shape, tc.fc6) {
			t.Errorf("%s fc6 = %s %v, want %v", tc.arch, got.Name, got.Shape, tc.fc6)
		}
	}
	m := newModel(t, miniConfig())
	vs := m.Variables()
	if len(vs) != 38 || vs[0].Name != "vgg_mini/conv1/conv1_1/weights" || !slices.Equal(vs[0].Shape, []int64{3, 3, 3, 8}) {
		t.Fatalf("variables: %d, first %+v", len(vs), vs[0])
	}
	last := vs[len(vs)-2]
	if last.Name != "vgg_mini/fc8/weights" || !last.IsHead || !slices.Equal(last.Shape, []int64{1, 1, 128, 5}) {
		t.Errorf("head = %+v", last)
	}
	if fc6 := vs[32]; fc6.Name != "vgg_mini/fc6/weights" || !slices.Equal(fc6.Shape, []int64{2, 2, 64, 128}) {
		t.Errorf("fc6 = %+v (64 px → 2×2 after five pools)", fc6)
	}
}

func TestBadConfigs(t *testing.T) {
	for _, c := range []Config{
		{Arch: "vgg_20", NumClasses: 3},
		{Arch: "vgg_19", NumClasses: 3, InputSize: 64},
		{Arch: "vgg_mini", NumClasses: 0},
		{Arch: "vgg_mini", NumClasses: 3, InputSize: 64, Trainable: "last-99"},
		{Arch: "vgg_mini", NumClasses: 3, InputSize: 64, Trainable: "some"},
		{Arch: "vgg_mini", NumClasses: 3, InputSize: 64, Device: "tpu"},
		{Arch: "vgg_mini", NumClasses: 3, InputSize: 64, ClassWeights: []float32{1}},
	} {
		if m, err := NewModel(c); err == nil {
			m.Close()
			t.Errorf("NewModel(%+v) succeeded", c)
		} else {
			t.Logf("%v", err)
		}
	}
}

func TestMiniTrainPredictSaveRestore(t *testing.T) {
	cfg := miniConfig()
	cfg.DropoutKeep = 1
	m := newModel(t, cfg)
	img, lab := randomBatch(4, 64, 5, 1)
	probs, err := m.Predict(img, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) != 4 || len(probs[0]) != 5 {
		t.Fatalf("probs shape %d×%d", len(probs), len(probs[0]))
	}
	var prev float32
	for i := 0; i < 3; i++ {
		r, err := m.TrainStep(img, lab, 4)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("step %+v", r)
		if r.Step != int64(i+1) || r.TotalLoss <= r.Loss {
			t.Errorf("step result %+v", r)
		}
		if i == 0 && r.LearningRate != 1e-3 {
			t.Errorf("lr at step 0 = %v", r.LearningRate)
		}
		prev = r.Loss
	}
	_ = prev
	ev, err := m.Evaluate(img, lab, 4)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Top1 > ev.Top5 || ev.Top5 > 4 || len(ev.Predictions) != 4 {
		t.Errorf("eval %+v", ev)
	}

	dir := t.TempDir()
	prefix, err := m.SaveCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if prefix != filepath.Join(dir, "model.ckpt-3") {
		t.Errorf("prefix %s", prefix)
	}
	if got, err := LatestCheckpoint(dir); err != nil || got != prefix {
		t.Errorf("LatestCheckpoint = %q, %v", got, err)
	}
	state, _ := os.ReadFile(filepath.Join(dir, "checkpoint"))
	t.Logf("checkpoint state:\n%s", state)

	// Resume: a fresh model restored from the checkpoint continues exactly.
	// (Dropout masks come from a per-session RNG that checkpoints do not
	// hold, so compare with dropout off on both sides.)
	m2 := newModel(t, cfg)
	if err := m2.RestoreCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	if s, _ := m2.GlobalStep(); s != 3 {
		t.Errorf("restored step %d", s)
	}
	r1, err := m.TrainStep(img, lab, 4)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := m2.TrainStep(img, lab, 4)
	if err != nil {
		t.Fatal(err)
	}
	if r1 != r2 {
		t.Errorf("resumed step %+v, original %+v", r2, r1)
	}
	l1, _ := m.Logits(img, 4)
	l2, _ := m2.Logits(img, 4)
	if !slices.Equal(l1[0], l2[0]) {
		t.Errorf("logits after resumed step %v, original %v", l2[0], l1[0])
	}
}

// TestEvaluateAndClassWeights: Evaluate's counts and loss agree with its own
// probabilities; class weights scale each example's cross-entropy.
func TestEvaluateAndClassWeights(t *testing.T) {
	cfg := miniConfig()
	cfg.InputSize = 32
	cfg.DropoutKeep = 1
	cfg.WeightDecay = 0
	cfg.ClassWeights = []float32{0.5, 1, 2, 3, 4}
	m := newModel(t, cfg)
	img, lab := randomBatch(8, 32, 5, 9)
	ev, err := m.Evaluate(img, lab, 8)
	if err != nil {
		t.Fatal(err)
	}
	var top1 int
	var xent, wxent float64
	for i, p := range ev.Probs {
		best := 0
		for c := range p {
			if p[c] > p[best] {
				best = c
			}
		}
		if int32(best) != ev.Predictions[i] {
			t.Errorf("image %d: prediction %d, argmax of probs %d", i, ev.Predictions[i], best)
		}
		if int32(best) == lab[i] {
			top1++
		}
		l := -math.Log(float64(p[lab[i]]))
		xent += l / 8
		wxent += float64(cfg.ClassWeights[lab[i]]) * l / 8
	}
	if top1 != ev.Top1 || ev.Top5 != 8 {
		t.Errorf("top1 %d (want %d), top5 %d (5 classes: want 8)", ev.Top1, top1, ev.Top5)
	}
	if math.Abs(float64(ev.Loss)-wxent) > 1e-5*wxent {
		t.Errorf("weighted eval loss %v, want %v (unweighted %v)", ev.Loss, wxent, xent)
	}
	r, err := m.TrainStep(img, lab, 8)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(r.Loss)-wxent) > 1e-5*wxent || r.TotalLoss != r.Loss {
		t.Errorf("train loss %+v, want %v", r, wxent)
	}
}

// TestSoftPlacement: asking for a GPU on a machine without one still runs
// (on the CPU) when soft placement is on.
func TestSoftPlacement(t *testing.T) {
	devs, _ := ListDevices()
	for _, d := range devs {
		if d.Type == "GPU" {
			t.Skip("a GPU is present: this test is about falling back to the CPU")
		}
	}
	cfg := miniConfig()
	cfg.InputSize = 32
	cfg.Device = "gpu:0"
	m := newModel(t, cfg)
	img, lab := randomBatch(2, 32, 5, 1)
	if _, err := m.TrainStep(img, lab, 2); err != nil {
		t.Fatalf("gpu:0 with soft placement on a CPU-only machine: %v", err)
	}
}

// TestDropoutAndSeed: the training path drops out (loss varies between
// identical steps at LR 0), the eval path does not, and Seed fixes the
// initial weights.
func TestDropoutAndSeed(t *testing.T) {
	cfg := miniConfig()
	cfg.InputSize = 32
	cfg.LearningRate, cfg.LearningRateEnd, cfg.WeightDecay = 0, 0, 0
	m := newModel(t, cfg)
	img, lab := randomBatch(4, 32, 5, 5)
	ev, _ := m.Evaluate(img, lab, 4)
	var losses []float32
	for i := 0; i < 3; i++ {
		r, err := m.TrainStep(img, lab, 4)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, r.Loss)
	}
	if losses[0] == losses[1] && losses[1] == losses[2] {
		t.Errorf("training losses with dropout are all %v", losses[0])
	}
	if ev2, _ := m.Evaluate(img, lab, 4); ev2.Loss != ev.Loss {
		t.Errorf("eval loss changed at LR 0: %v → %v", ev.Loss, ev2.Loss)
	}
	m2 := newModel(t, cfg)
	for _, name := range []string{"vgg_mini/conv1/conv1_1/weights", "vgg_mini/fc8/weights"} {
		a, _, _ := m.ReadVariable(name)
		b, _, _ := m2.ReadVariable(name)
		if !slices.Equal(a, b) {
			t.Errorf("%s differs between two models with Seed %d", name, cfg.Seed)
		}
	}
	w, _, _ := m.ReadVariable("vgg_mini/fc8/weights")
	limit := math.Sqrt(6.0 / (128 + 5))
	for _, v := range w {
		if math.Abs(float64(v)) > limit {
			t.Fatalf("fc8 weight %v outside Glorot-uniform ±%v", v, limit)
		}
	}
}

// buildVars builds arch's forward on a fresh graph and returns its
// variables, without a session (nets.Net.Variables).
func buildVars(t testing.TB, arch string, size, classes int) []*slim.Var {
	t.Helper()
	net, err := nets.Lookup(arch)
	if err != nil {
		t.Fatal(err)
	}
	vs, _, err := net.Variables(size, classes)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}
