package tfgraph

import (
	"errors"
	"math"
	"testing"
)

// TestOptimizersSlotsAndExactResume trains vgg_mini two steps with each
// non-default optimizer, checks TensorFlow's slot names exist (Adam's beta
// powers advanced), AdamW's loss carries no L2 term, and that a model
// restored from the checkpoint takes the same third step as the original.
func TestOptimizersSlotsAndExactResume(t *testing.T) {
	img, lab := randomBatch(4, 64, 5, 3)
	for _, tc := range []struct {
		opt   string
		slots []string
	}{
		{OptNesterov, []string{"/Momentum"}},
		{OptAdam, []string{"/Adam", "/Adam_1"}},
		{OptAdamW, []string{"/Adam", "/Adam_1"}},
		{OptRMSProp, []string{"/RMSProp", "/RMSProp_1"}},
	} {
		t.Run(tc.opt, func(t *testing.T) {
			cfg := miniConfig()
			cfg.Optimizer, cfg.DropoutKeep, cfg.LearningRate = tc.opt, 1, 1e-4
			cfg.Schedule, cfg.WarmupSteps = ScheduleCosine, 1
			m := newModel(t, cfg)
			var r StepResult
			var err error
			for range 2 {
				if r, err = m.TrainStep(img, lab, 4); err != nil {
					t.Fatal(err)
				}
			}
			if tc.opt == OptAdamW && r.TotalLoss != r.Loss {
				t.Errorf("adamw total loss %v != loss %v: L2 must not be in the loss", r.TotalLoss, r.Loss)
			}
			if tc.opt != OptAdamW && !(r.TotalLoss > r.Loss) {
				t.Errorf("%s total loss %v not above loss %v: L2 missing", tc.opt, r.TotalLoss, r.Loss)
			}
			for _, s := range tc.slots {
				if _, _, err := m.ReadVariable("vgg_mini/fc8/weights" + s); err != nil {
					t.Error(err)
				}
			}
			if tc.opt == OptAdam || tc.opt == OptAdamW {
				b1, _, err := m.ReadVariable("beta1_power")
				if err != nil || math.Abs(float64(b1[0])-0.9*0.9*0.9) > 1e-6 {
					t.Errorf("beta1_power %v, %v: want 0.9³ after two steps", b1, err)
				}
			}
			dir := t.TempDir()
			if _, err := m.SaveCheckpoint(dir); err != nil {
				t.Fatal(err)
			}
			m2 := newModel(t, cfg)
			if err := m2.RestoreCheckpoint(dir); err != nil {
				t.Fatal(err)
			}
			r1, err := m.TrainStep(img, lab, 4)
			if err != nil {
				t.Fatal(err)
			}
			r2, err := m2.TrainStep(img, lab, 4)
			if err != nil {
				t.Fatal(err)
			}
			w1, _, _ := m.ReadVariable("vgg_mini/conv1/conv1_1/weights")
			w2, _, _ := m2.ReadVariable("vgg_mini/conv1/conv1_1/weights")
			if r1 != r2 || len(w1) == 0 {
				t.Fatalf("resumed step %+v, original %+v", r2, r1)
			}
			for i := range w1 {
				if w1[i] != w2[i] {
					t.Fatalf("weight %d after the resumed step %v, original %v", i, w2[i], w1[i])
				}
			}
			if r1.LearningRate <= 0 || r1.LearningRate >= 1e-4 {
				t.Errorf("cosine lr at step 2 after 1 warmup step: %v, want in (0, 1e-4)", r1.LearningRate)
			}
		})
	}
}

// TestBadOptimizerConfigs: each bad optimizer or schedule setting alone
// (on an otherwise valid config) is a ConfigError.
func TestBadOptimizerConfigs(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"optimizer":   func(c *Config) { c.Optimizer = "sgdx" },
		"schedule":    func(c *Config) { c.Schedule = "expo" },
		"step every":  func(c *Config) { c.Schedule, c.StepEvery, c.StepGamma = ScheduleStep, 0, 0.5 },
		"warmup":      func(c *Config) { c.WarmupSteps = c.DecaySteps },
		"adam beta2":  func(c *Config) { c.Optimizer, c.Beta2 = OptAdam, 1 },
		"rmsprop eps": func(c *Config) { c.Optimizer, c.Epsilon = OptRMSProp, 0 },
	} {
		c := miniConfig()
		mod(&c)
		m, err := NewModel(c)
		var ce *ConfigError
		if err == nil {
			m.Close()
		}
		if !errors.As(err, &ce) {
			t.Errorf("%s: NewModel error %v, want a ConfigError", name, err)
		}
	}
}
