package tfgraph

import (
	"math"
	"strings"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

func TestVersionIs218(t *testing.T) {
	if v := Version(); !strings.HasPrefix(v, "2.18.") {
		t.Fatalf("libtensorflow version %q, want 2.18.x (the version graft v0.10.0 matches)", v)
	}
}

func TestListDevicesHasCPU(t *testing.T) {
	devs, err := ListDevices()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.Type == "CPU" {
			return
		}
	}
	t.Fatalf("no CPU device among %v", devs)
}

// TestCAPIGradients proves cgo, the library and the C API's gradient registry
// work together: loss = sum((x·W − y)²)/2, dloss/dW = xᵀ(xW − y), computed by
// TF_AddGradientsWithPrefix and checked against the closed form.
func TestCAPIGradients(t *testing.T) {
	x := [][]float32{{1, 2}, {3, 4}, {5, 6}}
	w := [][]float32{{0.5, -1}, {0.25, 2}}
	y := [][]float32{{1, 0}, {0, 1}, {1, 1}}

	s := op.NewScope()
	xc := op.Const(s.SubScope("x"), x)
	wp := op.Placeholder(s.SubScope("w"), tf.Float, op.PlaceholderShape(tf.MakeShape(2, 2)))
	yc := op.Const(s.SubScope("y"), y)
	diff := op.Sub(s, op.MatMul(s, xc, wp), yc)
	loss := op.L2Loss(s, diff)
	grads := op.Gradients(s, []tf.Output{loss}, []tf.Output{wp})
	wt, err := tf.NewTensor(w)
	if err != nil {
		t.Fatal(err)
	}
	out := runGraph(t, s, map[tf.Output]*tf.Tensor{wp: wt}, loss, grads[0])

	// Closed form in float64.
	var wantLoss float64
	r := make([][]float64, 3)
	for i := range x {
		r[i] = make([]float64, 2)
		for j := 0; j < 2; j++ {
			v := -float64(y[i][j])
			for k := 0; k < 2; k++ {
				v += float64(x[i][k]) * float64(w[k][j])
			}
			r[i][j] = v
			wantLoss += v * v / 2
		}
	}
	if got := float64(out[0].Value().(float32)); math.Abs(got-wantLoss) > 1e-5*math.Abs(wantLoss) {
		t.Errorf("loss = %v, want %v", got, wantLoss)
	}
	gotGrad := out[1].Value().([][]float32)
	for k := 0; k < 2; k++ {
		for j := 0; j < 2; j++ {
			var want float64
			for i := range x {
				want += float64(x[i][k]) * r[i][j]
			}
			if got := float64(gotGrad[k][j]); math.Abs(got-want) > 1e-5*math.Max(1, math.Abs(want)) {
				t.Errorf("dloss/dW[%d][%d] = %v, want %v", k, j, got, want)
			}
		}
	}
}
