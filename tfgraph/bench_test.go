package tfgraph

import "testing"

func benchTrain(b *testing.B, arch string, size, batch int) {
	cfg := DefaultConfig(arch, 101)
	cfg.InputSize = size
	cfg.DecaySteps = 1000
	cfg.Seed = 1
	m := newModel(b, cfg)
	img, lab := randomBatch(batch, size, 101, 1)
	if _, err := m.TrainStep(img, lab, batch); err != nil { // warm-up: first run allocates
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(img) * 4))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.TrainStep(img, lab, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkTrainStepMini: vgg_mini at 64 px, batch 16.
func BenchmarkTrainStepMini(b *testing.B) { benchTrain(b, "vgg_mini", 64, 16) }

// BenchmarkTrainStepVGG19: the recipe's net at 224 px, batch 2 (slow on CPU:
// run with -benchtime=3x).
func BenchmarkTrainStepVGG19(b *testing.B) { benchTrain(b, "vgg_19", 224, 2) }

// BenchmarkPredictVGG19: the inference path at 224 px, batch 16, with each
// conv algorithm (run with -benchtime=5x).
func BenchmarkPredictVGG19(b *testing.B) {
	for _, algo := range []string{ConvDirect, ConvAuto} {
		b.Run(algo, func(b *testing.B) {
			const batch, size = 16, 224
			cfg := DefaultConfig("vgg_19", 101)
			cfg.ForInference, cfg.Seed, cfg.ConvAlgorithm = true, 1, algo
			m := newModel(b, cfg)
			img, _ := randomBatch(batch, size, 101, 1)
			if _, err := m.Predict(img, batch); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.Predict(img, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
