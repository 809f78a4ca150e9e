package tfgraph

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tlearn/tlearn/imagenorm"
	"github.com/tlearn/tlearn/internal/testenv"
)

// scratchConfig is vgg_mini at 32 px for the from-scratch tests: no
// dropout or weight decay (conv1's L2 term is not part of the
// reparametrisation), one thread, a constant learning rate.
func scratchConfig(optimizer string, fromScratch bool) Config {
	c := DefaultConfig("vgg_mini", 3)
	c.InputSize, c.DropoutKeep, c.WeightDecay, c.Seed, c.Device, c.IntraOpThreads = 32, 1, 0, 1, "cpu", 1
	c.Optimizer, c.LearningRate, c.FromScratch = optimizer, 0.01, fromScratch
	if optimizer != OptMomentum {
		c.LearningRate = 1e-3
	}
	return c
}

// scratchPixels is a batch of n 32×32 images of uniform 0..255 values minus
// the ImageNet means: the spread (std ≈ 74) of what vgg nets are fed.
func scratchPixels(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	img := make([]float32, n*32*32*3)
	for i := range img {
		img[i] = 255*r.Float32() - imagenorm.MeanSubtract.Mean[i%3]
	}
	return img
}

// TestFromScratchTrainsAsUnitInputs: vgg_mini with FromScratch on pixels x
// takes the same steps as the plain model on x/s (s = the input std that
// conv1_1 is marked with), conv1_1's weights staying s× smaller: the
// from-scratch first layer starts and trains as on unit-variance inputs.
// Both models start from the same random draws (same seed), so the plain
// model's initial conv1_1 is exactly s× the reparametrised one.
func TestFromScratchTrainsAsUnitInputs(t *testing.T) {
	const conv1 = "vgg_mini/conv1/conv1_1/weights"
	s := float32(imagenorm.MeanSubtract.Std())
	for _, optimizer := range []string{OptMomentum, OptAdam} {
		t.Run(optimizer, func(t *testing.T) {
			scratch := newModel(t, scratchConfig(optimizer, true))
			plain := newModel(t, scratchConfig(optimizer, false))
			labels := []int32{0, 1, 2, 1}
			for step := range 3 {
				x := scratchPixels(4, uint64(step))
				xs := make([]float32, len(x))
				for i, v := range x {
					xs[i] = v / s
				}
				a, err := scratch.TrainStep(x, labels, 4)
				if err != nil {
					t.Fatal(err)
				}
				b, err := plain.TrainStep(xs, labels, 4)
				if err != nil {
					t.Fatal(err)
				}
				if d := math.Abs(float64(a.Loss-b.Loss)) / float64(b.Loss); d > 1e-5 {
					t.Errorf("step %d: loss %v from scratch, %v on unit inputs", step+1, a.Loss, b.Loss)
				}
			}
			want, got := map[string][]float32{}, map[string][]float32{}
			for _, v := range plain.Variables() {
				w, _, err := plain.ReadVariable(v.Name)
				if err != nil {
					t.Fatal(err)
				}
				g, _, err := scratch.ReadVariable(v.Name)
				if err != nil {
					t.Fatal(err)
				}
				if v.Name == conv1 {
					for i := range g {
						g[i] *= s
					}
				}
				want[v.Name], got[v.Name] = w, g
			}
			worst, at, err := testenv.WorstRelDiff(want, got)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("after 3 steps: worst relative difference %.2g (%s)", worst, at)
			if worst > 1e-4 {
				t.Errorf("%s differs by %.2g relative after 3 steps", at, worst)
			}
		})
	}
}

// TestFromScratchLogitsScale: on 0..255-minus-mean pixels, vgg_mini's
// initial logits from scratch are small (a cross-entropy near ln K), s×
// (≈ 58×) smaller than with the unreparametrised He init: a ReLU net with
// zero biases is linear in its first layer's scale. On vgg_19 at 224 px the
// plain init starts at a cross-entropy of hundreds (bench/NOTES.md).
func TestFromScratchLogitsScale(t *testing.T) {
	x := scratchPixels(8, 99)
	spread := func(fromScratch bool) float64 {
		m := newModel(t, scratchConfig(OptMomentum, fromScratch))
		logits, err := m.Logits(x, 8)
		if err != nil {
			t.Fatal(err)
		}
		var sum, sq float64
		var n int
		for _, row := range logits {
			for _, v := range row {
				sum, sq, n = sum+float64(v), sq+float64(v)*float64(v), n+1
			}
		}
		mean := sum / float64(n)
		return math.Sqrt(sq/float64(n) - mean*mean)
	}
	scratch, plain := spread(true), spread(false)
	t.Logf("initial logits std: %.3g from scratch, %.3g with the plain He init", scratch, plain)
	s := imagenorm.MeanSubtract.Std()
	if scratch > 1 || math.Abs(plain/scratch-s) > 0.01*s {
		t.Errorf("initial logits std %.3g from scratch (want < 1), %.3g plain (want %.3g×)", scratch, plain, s)
	}
}
