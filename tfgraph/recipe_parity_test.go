package tfgraph

import (
	"errors"
	"math"
	"path/filepath"
	"testing"
)

// TestParityLabelSmoothing: with LabelSmoothing 0.1 the training loss, the
// learning rate and every variable after 1 and 3 momentum steps equal
// TensorFlow's tf.compat.v1.losses.softmax_cross_entropy(label_smoothing=0.1)
// training (scripts/tf_reference.py); the eval loss stays the plain
// cross-entropy of the logits.
func TestParityLabelSmoothing(t *testing.T) {
	const eps = 0.1
	ref := runReference(t, "--arch", "vgg_mini", "--input-size", "32", "--batch", "4", "--classes", "5",
		"--steps", "3", "--formats", "v2", "--label-smoothing", "0.1")
	cfg := ref.config()
	cfg.LabelSmoothing = eps
	m := newModel(t, cfg)
	if err := m.LoadAll(filepath.Join(ref.dir, "ckpt_v2.index")); err != nil {
		t.Fatal(err)
	}
	input := ref.f32(t, "input.f32")
	logits, err := m.Logits(input, ref.Batch)
	if err != nil {
		t.Fatal(err)
	}
	// The formula in float64: −Σ_k y_k·log softmax(z)_k, y = onehot·(1−ε) + ε/K.
	var plain, smooth float64
	for i, z := range logits {
		mx := math.Inf(-1)
		for _, v := range z {
			mx = math.Max(mx, float64(v))
		}
		var sum float64
		for _, v := range z {
			sum += math.Exp(float64(v) - mx)
		}
		lse := mx + math.Log(sum)
		for k, v := range z {
			y := eps / float64(len(z))
			if int32(k) == ref.Labels[i] {
				y += 1 - eps
				plain += (lse - float64(v)) / float64(len(logits))
			}
			smooth += y * (lse - float64(v)) / float64(len(logits))
		}
	}
	ev, err := m.Evaluate(input, ref.Labels, ref.Batch)
	if err != nil {
		t.Fatal(err)
	}
	if e := math.Abs(float64(ev.Loss)-plain) / plain; e > parityTol {
		t.Errorf("eval loss %v, plain cross-entropy %v (rel %.3g): the eval loss must not be smoothed", ev.Loss, plain, e)
	}
	if e := math.Abs(ref.Steps[0].Loss-smooth) / smooth; e > parityTol {
		t.Errorf("TF's smoothed loss %v, formula %v (rel %.3g)", ref.Steps[0].Loss, smooth, e)
	}
	t.Logf("plain cross-entropy %.6f, smoothed %.6f (TF %.6f)", plain, smooth, ref.Steps[0].Loss)
	// The head-only phase (HeadSteps) trains on the same smoothed targets.
	hc := cfg
	hc.HeadSteps = 2
	hm := newModel(t, hc)
	if err := hm.LoadAll(filepath.Join(ref.dir, "ckpt_v2.index")); err != nil {
		t.Fatal(err)
	}
	hr, err := hm.TrainStep(input, ref.Labels, ref.Batch)
	if err != nil {
		t.Fatal(err)
	}
	if e := math.Abs(float64(hr.Loss)-smooth) / smooth; !hr.HeadOnly || e > parityTol {
		t.Errorf("head-phase step: loss %v (head only %v), smoothed formula %v (rel %.3g)", hr.Loss, hr.HeadOnly, smooth, e)
	}
	hm.Close()
	checkTraining(t, m, ref)
}

// TestParityClipNorm: with ClipNorm below the gradients' global norm, the
// updates after 1 and 3 momentum steps equal TensorFlow's with
// tf.clip_by_global_norm before apply_gradients.
func TestParityClipNorm(t *testing.T) {
	const clip = 0.05
	ref := runReference(t, "--arch", "vgg_mini", "--input-size", "32", "--batch", "4", "--classes", "5",
		"--steps", "3", "--formats", "v2", "--clip-norm", "0.05", "--lr", "0.05", "--seed", "2")
	for _, s := range ref.Steps {
		t.Logf("step %d: global gradient norm %.4g (clipped to %g)", s.Step, s.GradNorm, clip)
		if s.GradNorm < 2*clip {
			t.Fatalf("step %d: gradient norm %g is not well above the clip norm %g: the test would not see clipping", s.Step, s.GradNorm, clip)
		}
	}
	cfg := ref.config()
	cfg.ClipNorm = clip
	m := newModel(t, cfg)
	if err := m.LoadAll(filepath.Join(ref.dir, "ckpt_v2.index")); err != nil {
		t.Fatal(err)
	}
	checkTraining(t, m, ref)
}

// TestBadRecipeConfigs: label smoothing outside [0, 1) and a negative or
// infinite clip norm are ConfigErrors, before any graph is built.
func TestBadRecipeConfigs(t *testing.T) {
	for _, c := range []struct {
		smoothing, clip float64
	}{{1, 0}, {-0.1, 0}, {math.NaN(), 0}, {0, -1}, {0, math.Inf(1)}, {0, math.NaN()}} {
		cfg := DefaultConfig("vgg_mini", 3)
		cfg.InputSize = 32
		cfg.LabelSmoothing, cfg.ClipNorm = c.smoothing, c.clip
		_, err := NewModel(cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("label smoothing %g, clip norm %g: %v, want a ConfigError", c.smoothing, c.clip, err)
		}
	}
}

// TestClipNormUpdateSize: the first momentum step moves the weights by
// exactly lr·ClipNorm (its accumulator is the clipped gradient) when the
// gradients' norm is above ClipNorm — in fp32 and in fp16, where clipping
// must see the unscaled gradients (clipping the loss-scaled ones would shrink
// the step by the scale).
func TestClipNormUpdateSize(t *testing.T) {
	const lr, clip = 0.01, 0.05
	img, lab := randomBatch(4, 64, 5, 3)
	for _, precision := range []string{PrecisionFP32, PrecisionFP16} {
		cfg := miniConfig()
		cfg.Precision, cfg.LossScale = precision, DefaultLossScale
		cfg.DropoutKeep, cfg.LearningRate, cfg.Schedule, cfg.ClipNorm = 1, lr, ScheduleConstant, clip
		m := newModel(t, cfg)
		before := map[string][]float32{}
		for _, v := range m.Variables() {
			before[v.Name], _, _ = m.ReadVariable(v.Name)
		}
		for {
			r, err := m.TrainStep(img, lab, 4)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Skipped {
				break
			}
			if r.Step > 30 {
				t.Fatalf("%s: 30 steps skipped", precision)
			}
		}
		var sq float64
		for name, w0 := range before {
			w, _, err := m.ReadVariable(name)
			if err != nil {
				t.Fatal(err)
			}
			for i := range w {
				d := float64(w[i]) - float64(w0[i])
				sq += d * d
			}
		}
		got := math.Sqrt(sq)
		t.Logf("%s: update norm %.6g, lr·clip %.6g", precision, got, lr*clip)
		if math.Abs(got-lr*clip) > 0.02*lr*clip {
			t.Errorf("%s: the first step moved the weights by %.6g, want lr·clip = %.6g (±2%%)", precision, got, lr*clip)
		}
	}
}
