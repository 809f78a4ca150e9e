package tfgraph

import (
	"math"
	"slices"
	"testing"
)

// readVar reads one variable or fails the test.
func readVar(t *testing.T, m *Model, name string) []float32 {
	t.Helper()
	v, _, err := m.ReadVariable(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestHeadPhase: with HeadSteps 2 the first two steps change the head and
// nothing of the body — weights, batch-norm statistics — the third trains
// the body too; a model restored from the checkpoint of step 1 takes the
// same (head-only) step 2 as the original.
func TestHeadPhase(t *testing.T) {
	for _, tc := range []struct{ arch, head, body, stat string }{
		{"vgg_mini", "vgg_mini/fc8/weights", "vgg_mini/conv1/conv1_1/weights", ""},
		{"resnet_mini", "resnet_mini/logits/weights", "resnet_mini/conv1/weights", "resnet_mini/conv1/BatchNorm/moving_mean"},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			img, lab := randomBatch(4, 64, 5, 8)
			cfg := miniConfig()
			cfg.Arch, cfg.HeadSteps, cfg.DropoutKeep = tc.arch, 2, 1
			m := newModel(t, cfg)
			body0, head0 := readVar(t, m, tc.body), readVar(t, m, tc.head)
			var stat0 []float32
			if tc.stat != "" {
				stat0 = readVar(t, m, tc.stat)
			}
			r1, err := m.TrainStep(img, lab, 4)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if _, err := m.SaveCheckpoint(dir); err != nil {
				t.Fatal(err)
			}
			r2, err := m.TrainStep(img, lab, 4)
			if err != nil {
				t.Fatal(err)
			}
			if !r1.HeadOnly || !r2.HeadOnly {
				t.Fatalf("steps 1, 2: %+v %+v, want head-only", r1, r2)
			}
			if !slices.Equal(readVar(t, m, tc.body), body0) {
				t.Errorf("%s changed in the head phase", tc.body)
			}
			if tc.stat != "" && !slices.Equal(readVar(t, m, tc.stat), stat0) {
				t.Errorf("%s changed in the head phase", tc.stat)
			}
			if slices.Equal(readVar(t, m, tc.head), head0) {
				t.Errorf("%s unchanged by the head phase", tc.head)
			}

			m2 := newModel(t, cfg)
			if err := m2.RestoreCheckpoint(dir); err != nil {
				t.Fatal(err)
			}
			r2b, err := m2.TrainStep(img, lab, 4)
			if err != nil {
				t.Fatal(err)
			}
			if r2b != r2 || !slices.Equal(readVar(t, m2, tc.head), readVar(t, m, tc.head)) {
				t.Errorf("resumed step 2 %+v, original %+v", r2b, r2)
			}

			r3, err := m.TrainStep(img, lab, 4)
			if err != nil {
				t.Fatal(err)
			}
			if r3.HeadOnly || r3.LearningRateBody != r3.LearningRate {
				t.Errorf("step 3 %+v: want a full step at the body's learning rate = the head's", r3)
			}
			if slices.Equal(readVar(t, m, tc.body), body0) {
				t.Errorf("%s unchanged by the full step after the head phase", tc.body)
			}
		})
	}
}

// TestBodyLRMult: one momentum step from the same weights with the body's
// learning rate scaled by 0.5 moves every body weight by half of what the
// unscaled step does and the head by the same; with 0 the body stays put.
func TestBodyLRMult(t *testing.T) {
	img, lab := randomBatch(4, 64, 5, 9)
	const head, body = "vgg_mini/fc8/weights", "vgg_mini/conv2/conv2_1/weights"
	delta := func(mult *float64) (dHead, dBody []float64) {
		cfg := miniConfig()
		cfg.DropoutKeep, cfg.BodyLRMult = 1, mult
		m := newModel(t, cfg)
		h0, b0 := readVar(t, m, head), readVar(t, m, body)
		r, err := m.TrainStep(img, lab, 4)
		if err != nil {
			t.Fatal(err)
		}
		if mult != nil && math.Abs(float64(r.LearningRateBody)-*mult*float64(r.LearningRate)) > 1e-12 {
			t.Errorf("body lr %v, want %v·%v", r.LearningRateBody, *mult, r.LearningRate)
		}
		diff := func(after, before []float32) []float64 {
			d := make([]float64, len(after))
			for i := range after {
				d[i] = float64(after[i]) - float64(before[i])
			}
			return d
		}
		return diff(readVar(t, m, head), h0), diff(readVar(t, m, body), b0)
	}
	half, zero := 0.5, 0.0
	h1, b1 := delta(nil)
	hHalf, bHalf := delta(&half)
	_, bZero := delta(&zero)
	var worstHead, worstBody, moved float64
	for i := range h1 {
		worstHead = max(worstHead, math.Abs(hHalf[i]-h1[i]))
	}
	for i := range b1 {
		worstBody = max(worstBody, math.Abs(bHalf[i]-0.5*b1[i]))
		moved = max(moved, math.Abs(b1[i]))
		if bZero[i] != 0 {
			t.Fatalf("body weight %d moved by %v with BodyLRMult 0", i, bZero[i])
		}
	}
	if moved == 0 || worstBody > 1e-4*moved || worstHead > 1e-4*moved {
		t.Errorf("largest body move %v: |Δ(0.5) − Δ/2| up to %v, head |Δ(0.5) − Δ| up to %v", moved, worstBody, worstHead)
	}
}
