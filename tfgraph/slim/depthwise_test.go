package slim

import (
	"math"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// TestDepthwiseHeInit: with Args.Init HeUniform a depthwise filter
// [3,3,in,1] starts U(-l, l) with l = sqrt(6/9), the He range for the 9
// values each output reads (TensorFlow's fan rule would give sqrt(6/(9·in))),
// for several channel counts; its std is l/sqrt(3).
func TestDepthwiseHeInit(t *testing.T) {
	for _, in := range []int64{16, 64, 256} {
		s := op.NewScope()
		x := op.Placeholder(s.SubScope("x"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1, 8, 8, in)))
		vs := NewVars(s, 1)
		b := New(s.SubScope("fwd"), vs, Mode{}).Scope("net").With(Args{Init: HeUniform})
		Depthwise(b.Scope("dw"), x, 3, Linear)
		if err := b.Err(); err != nil {
			t.Fatal(err)
		}
		w := vs.Lookup("net/dw/depthwise_weights")
		g, err := s.Finalize()
		if err != nil {
			t.Fatal(err)
		}
		sess, err := tf.NewSession(g, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sess.Run(nil, nil, []*tf.Operation{w.Init}); err != nil {
			t.Fatal(err)
		}
		out, err := sess.Run(nil, []tf.Output{w.Read}, nil)
		if err != nil {
			t.Fatal(err)
		}
		sess.Close()
		var maxAbs, sq float64
		vals := out[0].Value().([][][][]float32)
		n := 0
		for _, a := range vals {
			for _, b := range a {
				for _, c := range b {
					for _, v := range c {
						maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
						sq += float64(v) * float64(v)
						n++
					}
				}
			}
		}
		limit := math.Sqrt(6.0 / 9)
		std := math.Sqrt(sq / float64(n))
		if maxAbs > limit || std < 0.8*limit/math.Sqrt(3) || std > 1.2*limit/math.Sqrt(3) {
			t.Errorf("in=%d: max |w| %.3g, std %.3g; want max ≤ %.3g, std ≈ %.3g", in, maxAbs, std, limit, limit/math.Sqrt(3))
		}
	}
}
