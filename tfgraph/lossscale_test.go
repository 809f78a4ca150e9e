package tfgraph

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// fp16Config is miniConfig trained in fp16 (on the CPU: TensorFlow's float16
// emulation) with the loss scale ls, dropout off.
func fp16Config(ls LossScale) Config {
	c := miniConfig()
	c.Precision, c.LossScale, c.DropoutKeep = PrecisionFP16, ls, 1
	return c
}

// snapshot reads every variable but global_step and the loss-scale state.
func snapshot(t *testing.T, m *Model) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for _, v := range m.vars {
		if v.Name == "global_step" || v.Name == lossScaleVar || v.Name == goodStepsVar {
			continue
		}
		vals, _, err := m.ReadVariable(v.Name)
		if err != nil {
			t.Fatal(err)
		}
		out[v.Name] = vals
	}
	return out
}

func readScalar(t *testing.T, m *Model, name string) float32 {
	t.Helper()
	v, _, err := m.ReadVariable(name)
	if err != nil {
		t.Fatal(err)
	}
	return v[0]
}

// TestLossScaleOverflowSkipsStep: a loss scale of 2^40 overflows float16 in
// the backward pass (it does not in float32: so this also shows the rewrite
// is on), the step changes no variable — weights, momentum slots, batch-norm
// statistics — and halves the scale; the scale comes down step by step until
// the gradients are finite, and that step does update the weights.
func TestLossScaleOverflowSkipsStep(t *testing.T) {
	for _, tc := range []struct{ arch, probe string }{
		{"vgg_mini", "vgg_mini/conv1/conv1_1/weights"},
		{"resnet_mini", "resnet_mini/conv1/BatchNorm/moving_mean"},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			img, lab := randomBatch(4, 64, 5, 3)
			cfg := fp16Config(LossScale{Initial: 1 << 40, GrowthSteps: 1000})
			cfg.Arch = tc.arch
			m := newModel(t, cfg)
			before := snapshot(t, m)
			if _, ok := before[tc.probe]; !ok {
				t.Fatalf("no variable %s", tc.probe)
			}
			r, err := m.TrainStep(img, lab, 4)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Skipped || r.LossScale != 1<<40 || r.Step != 1 {
				t.Fatalf("first step %+v: want skipped at scale 2^40, global step 1", r)
			}
			after := snapshot(t, m)
			for name, want := range before {
				if !slices.Equal(after[name], want) {
					t.Errorf("%s changed by a skipped step", name)
				}
			}
			if got := readScalar(t, m, lossScaleVar); got != 1<<39 {
				t.Errorf("scale after an overflow: %v, want 2^39", got)
			}
			applied := false
			for range 40 {
				if r, err = m.TrainStep(img, lab, 4); err != nil {
					t.Fatal(err)
				}
				if !r.Skipped {
					applied = true
					break
				}
			}
			if !applied || r.LossScale >= 1<<39 {
				t.Fatalf("no finite step after halving the scale down to %v", r.LossScale)
			}
			if slices.Equal(snapshot(t, m)[tc.probe], before[tc.probe]) {
				t.Errorf("the first finite step left %s unchanged", tc.probe)
			}
			if good := readScalar(t, m, goodStepsVar); good != 1 {
				t.Errorf("good steps after one finite step: %v, want 1", good)
			}
		})
	}
}

// TestLossScaleGrowsAndResumes: with GrowthSteps 2 the scale doubles after
// every second finite step; a model restored from a checkpoint taken after
// an odd number of steps carries the scale and the counter, so its next
// steps equal the original's bit for bit.
func TestLossScaleGrowsAndResumes(t *testing.T) {
	img, lab := randomBatch(4, 64, 5, 4)
	cfg := fp16Config(LossScale{Initial: 4, GrowthSteps: 2})
	m := newModel(t, cfg)
	var scales []float32
	for range 3 {
		r, err := m.TrainStep(img, lab, 4)
		if err != nil {
			t.Fatal(err)
		}
		scales = append(scales, r.LossScale)
	}
	if !slices.Equal(scales, []float32{4, 4, 8}) {
		t.Fatalf("scales used by steps 1-3: %v, want [4 4 8]", scales)
	}
	dir := t.TempDir()
	if _, err := m.SaveCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	m2 := newModel(t, cfg)
	if err := m2.RestoreCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	for step := 4; step <= 5; step++ {
		r1, err := m.TrainStep(img, lab, 4)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := m2.TrainStep(img, lab, 4)
		if err != nil {
			t.Fatal(err)
		}
		if r1 != r2 {
			t.Fatalf("step %d: resumed %+v, original %+v", step, r2, r1)
		}
	}
	if got := readScalar(t, m2, lossScaleVar); got != 16 {
		t.Errorf("scale after 5 finite steps from 4 growing every 2: %v, want 16", got)
	}
	a, b := snapshot(t, m), snapshot(t, m2)
	for name := range a {
		if !slices.Equal(a[name], b[name]) {
			t.Errorf("%s differs between the original and the resumed run", name)
		}
	}
}

// TestFP16TrainsLikeFP32: ten applied steps on one batch from the same
// initial weights reach fp32's loss within a few percent in the float16
// emulation (after the overflowing first steps that bring the scale down),
// and its losses are not bit-equal to fp32's (the rewrite is in effect).
func TestFP16TrainsLikeFP32(t *testing.T) {
	img, lab := randomBatch(8, 64, 5, 5)
	run := func(cfg Config) []float32 {
		cfg.DropoutKeep, cfg.LearningRate, cfg.Schedule = 1, 0.01, ScheduleConstant
		m := newModel(t, cfg)
		var losses []float32
		for len(losses) < 10 {
			r, err := m.TrainStep(img, lab, 8)
			if err != nil {
				t.Fatal(err)
			}
			if r.Step > 30 {
				t.Fatalf("%d of 30 steps skipped (scale now %v)", 30-len(losses), r.LossScale)
			}
			if !r.Skipped { // the first steps may overflow until the scale fits
				losses = append(losses, r.Loss)
			}
		}
		return losses
	}
	fp32 := run(miniConfig())
	fp16 := run(fp16Config(DefaultLossScale))
	t.Logf("fp32 losses %v\nfp16 losses %v", fp32, fp16)
	if !(fp32[9] < 0.9*fp32[0]) {
		t.Fatalf("fp32 did not learn the batch: %v", fp32)
	}
	last32, last16 := float64(fp32[9]), float64(fp16[9])
	if math.Abs(last16-last32) > 0.05*last32 {
		t.Errorf("fp16 loss after 10 steps %v, fp32 %v: more than 5%% apart", last16, last32)
	}
	if slices.Equal(fp32, fp16) {
		t.Error("fp16 losses equal fp32's bit for bit: the float16 rewrite is not in effect")
	}
}

// TestPrecisionConfigs: unknown precisions, fp16 without a usable loss scale
// and bf16 on a GPU are ConfigErrors.
func TestPrecisionConfigs(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"unknown":       func(c *Config) { c.Precision = "fp8" },
		"no scale":      func(c *Config) { c.Precision, c.LossScale = PrecisionFP16, LossScale{GrowthSteps: 10} },
		"no growth":     func(c *Config) { c.Precision, c.LossScale = PrecisionFP16, LossScale{Initial: 8} },
		"bf16 on a gpu": func(c *Config) { c.Precision, c.Device = PrecisionBF16, "gpu:0" },
	} {
		c := miniConfig()
		mod(&c)
		m, err := NewModel(c)
		if err == nil {
			m.Close()
		}
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s: NewModel error %v, want a ConfigError", name, err)
		}
	}
}

// TestLossScaleResumeFromFP32: an fp16 model resumes from an fp32 run's
// checkpoint (which holds no loss-scale state) at the initial scale, with
// the run's weights and global step.
func TestLossScaleResumeFromFP32(t *testing.T) {
	img, lab := randomBatch(4, 64, 5, 6)
	m := newModel(t, miniConfig())
	if _, err := m.TrainStep(img, lab, 4); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := m.SaveCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	m16 := newModel(t, fp16Config(LossScale{Initial: 64, GrowthSteps: 100}))
	if err := m16.RestoreCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	if got := readScalar(t, m16, "global_step"); got != 1 {
		t.Errorf("global step %v after the restore, want 1", got)
	}
	if got := readScalar(t, m16, lossScaleVar); got != 64 {
		t.Errorf("loss scale %v after restoring an fp32 checkpoint, want the initial 64", got)
	}
	w32, w16 := snapshot(t, m)["vgg_mini/fc8/weights"], snapshot(t, m16)["vgg_mini/fc8/weights"]
	if !slices.Equal(w32, w16) {
		t.Error("fc8 weights differ after the restore")
	}
}
