package tfgraph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tlearn/tlearn/tfgraph/winograd"
)

// winogradTol bounds Winograd F(4×4,3×3)'s float32 rounding against
// TensorFlow's Conv2D, relative to the output's largest magnitude (measured
// 0.9–2.2e-5 for 64–512 channels with TensorFlow 2.18).
const winogradTol = 1e-4

// TestWinogradConv compares winogradConv with TensorFlow's Conv2D (SAME,
// stride 1) over sides that are and are not multiples of the 4-pixel tile,
// non-square maps, single-pixel maps and several channel counts.
func TestWinogradConv(t *testing.T) {
	for _, tc := range []struct {
		n, h, w, c, k int64
	}{
		{1, 8, 8, 3, 8},
		{3, 14, 14, 16, 24}, // 14: last tile row/column partly outside
		{2, 5, 7, 8, 8},
		{2, 1, 1, 4, 4},
		{1, 2, 9, 5, 3},
		{2, 28, 28, 64, 64},
		{1, 12, 12, 256, 256},
	} {
		t.Run(fmt.Sprintf("%dx%dx%dx%d_to_%d", tc.n, tc.h, tc.w, tc.c, tc.k), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.h*1000+tc.c), uint64(tc.k)))
			x := make([]float32, tc.n*tc.h*tc.w*tc.c)
			for i := range x {
				x[i] = float32(rng.NormFloat64() * 50) // VGG inputs are 0..255 minus means
			}
			wv := make([]float32, 9*tc.c*tc.k)
			for i := range wv {
				wv[i] = float32(rng.NormFloat64() / math.Sqrt(float64(9*tc.c)))
			}
			s := op.NewScope()
			xt := op.Const(s.SubScope("x"), reshape4(x, tc.n, tc.h, tc.w, tc.c))
			wt := op.Const(s.SubScope("w"), reshape4(wv, 3, 3, tc.c, tc.k))
			direct := op.Conv2D(s.SubScope("direct"), xt, wt, []int64{1, 1, 1, 1}, "SAME")
			wino := winograd.Conv(s.SubScope("winograd"), xt, wt, tc.h, tc.w, tc.c, tc.k)
			out := runGraph(t, s, nil, direct, wino)
			want, got := out[0].Value().([][][][]float32), out[1].Value().([][][][]float32)
			if fmt.Sprint(out[0].Shape()) != fmt.Sprint(out[1].Shape()) {
				t.Fatalf("shape %v, Conv2D gives %v", out[1].Shape(), out[0].Shape())
			}
			e := relErr(flatten4(got), flatten4(want))
			t.Logf("relative error %.3g", e)
			if e > winogradTol {
				t.Errorf("relative error %.3g > %g", e, winogradTol)
			}
		})
	}
}

// TestWinogradPolicy: which 3×3 stride-1 SAME convs ConvAuto computes with
// Winograd (slim asks only about those: fc, 1×1 and strided convs are
// direct whatever the policy, see TestWinogradModel's fc layers).
func TestWinogradPolicy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		in, out int
		want    bool
	}{
		{"auto, wide, cpu", Config{Device: "cpu"}, 256, 512, true},
		{"auto spelled out", Config{Device: "cpu", ConvAlgorithm: ConvAuto}, 256, 512, true},
		{"auto, 128 in", Config{Device: "cpu"}, 128, 256, true},
		{"auto, 64 in", Config{Device: "cpu"}, 64, 128, false},
		{"auto, 64 out", Config{Device: "cpu"}, 512, 64, false},
		{"auto, bf16", Config{Device: "cpu", Precision: PrecisionBF16}, 256, 512, false},
		{"auto, gpu", Config{Device: "gpu:0"}, 256, 512, false},
		{"auto, default device on this CPU-only build", Config{}, 256, 512, !gpuBuild()},
		{"direct", Config{Device: "cpu", ConvAlgorithm: ConvDirect}, 256, 512, false},
		{"winograd, narrow", Config{ConvAlgorithm: ConvWinograd}, 3, 8, true},
	} {
		p := winogradPolicy(tc.cfg)
		if got := p != nil && p(tc.in, tc.out); got != tc.want {
			t.Errorf("%s: Winograd for %d→%d = %v, want %v", tc.name, tc.in, tc.out, got, tc.want)
		}
	}
	if _, err := NewModel(Config{Arch: "vgg_mini", NumClasses: 2, InputSize: 32, ConvAlgorithm: "fft"}); err == nil {
		t.Error("ConvAlgorithm fft: no error")
	}
}

// TestWinogradModel: a vgg_mini with every 3×3 conv as Winograd predicts what
// the direct model predicts, and its training steps (always direct, with
// dropout off sharing the eval forward otherwise) match the direct model's.
func TestWinogradModel(t *testing.T) {
	const n, S, classes = 4, 64, 5
	models := map[string]*Model{}
	for _, algo := range []string{ConvDirect, ConvWinograd} {
		cfg := DefaultConfig("vgg_mini", classes)
		cfg.InputSize, cfg.Seed, cfg.DropoutKeep, cfg.DecaySteps, cfg.LearningRate = S, 11, 1, 10, 1e-5
		cfg.ConvAlgorithm, cfg.Device = algo, "cpu"
		models[algo] = newModel(t, cfg)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	images := make([]float32, n*S*S*3)
	for i := range images {
		images[i] = float32(rng.Float64()*255 - 120)
	}
	labels := []int32{0, 1, 2, 3}
	for step := 0; step < 3; step++ {
		want, err := models[ConvDirect].Logits(images, n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := models[ConvWinograd].Logits(images, n)
		if err != nil {
			t.Fatal(err)
		}
		e := relErr(flatten(got), flatten(want))
		t.Logf("step %d: logits relative error %.3g", step, e)
		if e > winogradTol {
			t.Errorf("step %d: logits relative error %.3g > %g", step, e, winogradTol)
		}
		rd, err := models[ConvDirect].TrainStep(images, labels, n)
		if err != nil {
			t.Fatal(err)
		}
		rw, err := models[ConvWinograd].TrainStep(images, labels, n)
		if err != nil {
			t.Fatal(err)
		}
		if rd.Loss != rw.Loss || rd.TotalLoss != rw.TotalLoss {
			t.Errorf("step %d: training loss %v/%v with Winograd inference, %v/%v direct: the training path must not change",
				step, rw.Loss, rw.TotalLoss, rd.Loss, rd.TotalLoss)
		}
	}
}

// runGraph finalizes s, runs fetch with feeds in a fresh session and returns
// the fetched tensors.
func runGraph(t *testing.T, s *op.Scope, feeds map[tf.Output]*tf.Tensor, fetch ...tf.Output) []*tf.Tensor {
	t.Helper()
	g, err := s.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	sess, err := tf.NewSession(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Run(feeds, fetch, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func reshape4(v []float32, a, b, c, d int64) [][][][]float32 {
	out := make([][][][]float32, a)
	i := 0
	for p := range out {
		out[p] = make([][][]float32, b)
		for q := range out[p] {
			out[p][q] = make([][]float32, c)
			for r := range out[p][q] {
				out[p][q][r] = v[i : i+int(d)]
				i += int(d)
			}
		}
	}
	return out
}

func flatten4(x [][][][]float32) []float32 {
	var out []float32
	for _, a := range x {
		for _, b := range a {
			for _, c := range b {
				out = append(out, c...)
			}
		}
	}
	return out
}
