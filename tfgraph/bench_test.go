package tfgraph

import (
	"testing"
	"time"
)

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

// BenchmarkDataParallel: vgg_mini at 64 px, a global batch of 16, on one
// device and on two virtual CPU replicas (cpu:0,cpu:1), with one inter-op
// thread (tlearn's CPU default: the replicas' kernels run one at a time) and
// two (the replicas may run at once, each on the shared intra-op pool).
// bench/dataparallel.sh runs it; bench/NOTES.md has the numbers.
func BenchmarkDataParallel(b *testing.B) {
	for _, tc := range []struct {
		name    string
		devices []string
		inter   int
		batch   int
	}{
		{"one_device/inter1/batch16", nil, 1, 16},
		{"replicas1/inter1/batch16", []string{"cpu:0"}, 1, 16},
		{"replicas2/inter1/batch16", []string{"cpu:0", "cpu:1"}, 1, 16},
		{"replicas2/inter2/batch16", []string{"cpu:0", "cpu:1"}, 2, 16},
		{"one_device/inter1/batch2", nil, 1, 2},
		{"replicas2/inter1/batch2", []string{"cpu:0", "cpu:1"}, 1, 2},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := DefaultConfig("vgg_mini", 101)
			cfg.InputSize, cfg.DecaySteps, cfg.Seed, cfg.DropoutKeep = 64, 1000, 1, 1
			cfg.InterOpThreads, cfg.Devices = tc.inter, tc.devices
			if tc.devices == nil {
				cfg.Device = "cpu"
			}
			m := newModel(b, cfg)
			img, lab := randomBatch(tc.batch, 64, 101, 1)
			for range 2 { // warm-up: the first runs allocate and optimise the graph
				if _, err := m.TrainStep(img, lab, tc.batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(img) * 4))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.TrainStep(img, lab, tc.batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*tc.batch)/b.Elapsed().Seconds(), "images/s")
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/step")
		})
	}
}

// BenchmarkReduceGradients: the two in-process gradient reducers on vgg_mini
// at 64 px, a global batch of 16, two virtual CPU replicas: MeanGradients
// (AddN on the first device) and CollectiveMeanGradients (CollectiveReduceV2,
// TensorFlow's ring on CPUs). Both models train in one loop, a step of each
// in turn (which goes first alternates), so that the machine's load falls
// on both alike; it reports each
// one's ms/step and the ratio collective/AddN (bench/NOTES.md).
func BenchmarkReduceGradients(b *testing.B) {
	build := func(reduce GradientReducer) *Model {
		cfg := DefaultConfig("vgg_mini", 101)
		cfg.InputSize, cfg.DecaySteps, cfg.Seed, cfg.DropoutKeep = 64, 1000, 1, 1
		cfg.Devices, cfg.ReduceGradients = []string{"cpu:0", "cpu:1"}, reduce
		return newModel(b, cfg)
	}
	models := []*Model{build(MeanGradients), build(CollectiveMeanGradients)}
	img, lab := randomBatch(16, 64, 101, 1)
	step := func(m *Model) time.Duration {
		t0 := time.Now()
		if _, err := m.TrainStep(img, lab, 16); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	for range 2 { // warm-up: the first runs allocate and optimise the graph
		for _, m := range models {
			step(m)
		}
	}
	var spent [2]time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range models {
			k := (i + j) % len(models) // alternate which goes first
			spent[k] += step(models[k])
		}
	}
	ms := func(d time.Duration) float64 { return d.Seconds() * 1e3 / float64(b.N) }
	b.ReportMetric(ms(spent[0]), "addn-ms/step")
	b.ReportMetric(ms(spent[1]), "collective-ms/step")
	b.ReportMetric(spent[1].Seconds()/spent[0].Seconds(), "collective/addn")
}
