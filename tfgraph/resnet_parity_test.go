package tfgraph

import (
	"testing"
)

// TestParityResNetMini: resnet_mini (slim's resnet_v1 code with narrow
// blocks; scripts/slim_reference.py builds it with tf-slim itself) from V1
// and V2 checkpoints of random weights and batch-norm statistics, then loss,
// learning rate and every variable — the moving means and variances updated
// by the training batch included — after 1 and 3 momentum steps.
func TestParityResNetMini(t *testing.T) {
	ref := runScriptReference(t, "slim_reference.py", "--arch", "resnet_mini", "--input-size", "64", "--batch", "4",
		"--classes", "5", "--steps", "3")
	checkLogitsAndTraining(t, ref)
}

// TestBatchNormModes: with BatchNorm train a step moves every moving
// statistic; with frozen none moves while beta and gamma still train; the
// head-only run leaves the body's statistics alone (its layers are frozen).
func TestBatchNormModes(t *testing.T) {
	for _, tc := range []struct {
		name, bn, trainable string
		bodyStatsMove       bool
	}{
		{"train", BatchNormTrain, "all", true},
		{"frozen", BatchNormFrozen, "all", false},
		{"head only", BatchNormTrain, "head", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Arch: "resnet_mini", NumClasses: 3, InputSize: 32, Seed: 1, Trainable: tc.trainable,
				BatchNorm: tc.bn, LearningRate: 0.1, Momentum: 0.9, DropoutKeep: 1, Device: "cpu"}
			m := newModel(t, cfg)
			img, lab := randomBatch(4, 32, 3, 4)
			names := []string{"resnet_mini/conv1/BatchNorm/moving_mean", "resnet_mini/block3/unit_1/bottleneck_v1/conv3/BatchNorm/moving_variance"}
			params := []string{"resnet_mini/conv1/BatchNorm/gamma", "resnet_mini/conv1/BatchNorm/beta"}
			before := map[string][]float32{}
			for _, n := range append(names, params...) {
				before[n], _, _ = m.ReadVariable(n)
			}
			if _, err := m.TrainStep(img, lab, 4); err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				got, _, _ := m.ReadVariable(n)
				if moved := relErr(got, before[n]) != 0; moved != tc.bodyStatsMove {
					t.Errorf("%s moved = %v, want %v", n, moved, tc.bodyStatsMove)
				}
			}
			for _, n := range params {
				got, _, _ := m.ReadVariable(n)
				if moved := relErr(got, before[n]) != 0; moved != (tc.trainable == "all") {
					t.Errorf("%s moved = %v, want %v", n, moved, tc.trainable == "all")
				}
			}
		})
	}
}

// TestSavedModelBatchNorm: a resnet_mini whose moving statistics a few
// training steps moved exports a SavedModel (the net rebuilt with
// slim.Mode{}) that predicts what the Model predicts.
func TestSavedModelBatchNorm(t *testing.T) {
	const C = 3
	m := newModel(t, Config{Arch: "resnet_mini", NumClasses: C, InputSize: 32, Seed: 2, Trainable: "all",
		LearningRate: 0.05, Momentum: 0.9, DropoutKeep: 1, Device: "cpu"})
	img, lab := randomBatch(4, 32, C, 6)
	for range 2 {
		if _, err := m.TrainStep(img, lab, 4); err != nil {
			t.Fatal(err)
		}
	}
	s := exportAndOpen(t, m, smClasses(C))
	checkServed(t, s, m, smBatch(4, 32, 3), 4, "exported resnet_mini")
}
