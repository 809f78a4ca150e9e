package tfgraph

import (
	"math"
	"slices"
	"testing"
)

// TestEMAFollowsFormula: after each of three steps every average equals
// avg − (1−d)·(avg − w) with d = min(decay, (1+n)/(10+n)) computed here
// from the weights read after the step, starting at the initial weights.
func TestEMAFollowsFormula(t *testing.T) {
	img, lab := randomBatch(4, 64, 5, 11)
	cfg := miniConfig()
	cfg.EMADecay, cfg.DropoutKeep = 0.2, 1
	m := newModel(t, cfg)
	const w = "vgg_mini/conv2/conv2_1/weights"
	want := readVar(t, m, w)
	if got := readVar(t, m, w+emaSuffix); !slices.Equal(got, want) {
		t.Fatal("the average does not start at the initial weights")
	}
	for n := range 3 {
		if _, err := m.TrainStep(img, lab, 4); err != nil {
			t.Fatal(err)
		}
		d := math.Min(0.2, float64(1+n)/float64(10+n))
		cur := readVar(t, m, w)
		for i := range want {
			want[i] -= float32(1-d) * (want[i] - cur[i])
		}
		got := readVar(t, m, w+emaSuffix)
		var worst float64
		for i := range got {
			worst = max(worst, math.Abs(float64(got[i]-want[i])))
		}
		if worst > 1e-6 {
			t.Fatalf("after step %d the average is up to %g off the formula", n+1, worst)
		}
	}
}

// TestEMASwapAndReadAverages: SwapAverages evaluates with the averages and
// a second swap restores the weights bit for bit; an inference model with
// ReadAverages restored from the checkpoint gives the swapped model's
// logits; a checkpoint without averages restores with them set to the
// weights.
func TestEMASwapAndReadAverages(t *testing.T) {
	img, lab := randomBatch(4, 64, 5, 12)
	cfg := miniConfig()
	cfg.EMADecay, cfg.DropoutKeep = 0.9, 1
	m := newModel(t, cfg)
	for range 3 {
		if _, err := m.TrainStep(img, lab, 4); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if _, err := m.SaveCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	raw, err := m.Logits(img, 4)
	if err != nil {
		t.Fatal(err)
	}
	w0 := readVar(t, m, "vgg_mini/fc8/weights")
	if err := m.SwapAverages(); err != nil {
		t.Fatal(err)
	}
	avg, err := m.Logits(img, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SwapAverages(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(readVar(t, m, "vgg_mini/fc8/weights"), w0) {
		t.Error("two swaps did not give the weights back")
	}
	if maxAbsDiff(raw, avg) == 0 {
		t.Fatal("the averaged logits equal the raw ones: nothing was swapped")
	}

	inf := cfg
	inf.ForInference, inf.ReadAverages, inf.EMADecay = true, true, 0
	mi := newModel(t, inf)
	if err := mi.RestoreCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	got, err := mi.Logits(img, 4)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(got, avg); d > 1e-5 {
		t.Errorf("ReadAverages logits differ from the swapped model's by %g", d)
	}

	plain := miniConfig()
	mp := newModel(t, plain)
	pdir := t.TempDir()
	if _, err := mp.SaveCheckpoint(pdir); err != nil {
		t.Fatal(err)
	}
	me := newModel(t, cfg)
	if err := me.RestoreCheckpoint(pdir); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(readVar(t, me, "vgg_mini/fc8/weights"+emaSuffix), readVar(t, mp, "vgg_mini/fc8/weights")) {
		t.Error("restoring a checkpoint without averages did not set them to its weights")
	}
}
