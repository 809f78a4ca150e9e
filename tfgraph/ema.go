package tfgraph

import (
	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tlearn/tlearn/tfgraph/slim"
)

// emaSuffix names a weight's moving average, as tf.train.ExponentialMovingAverage.
const emaSuffix = "/ExponentialMovingAverage"

// averaged reports whether v gets a moving average under Config.EMADecay
// (and is read from it under Config.ReadAverages): the trainable weights,
// biases, betas and gammas, and the head's always (a head-only phase trains
// it whatever Trainable says). Moving statistics are averages already.
func averaged(v *slim.Var) bool {
	switch v.Role {
	case slim.Weight, slim.Bias, slim.Beta, slim.Gamma:
		return v.Trainable || v.Head
	}
	return false
}

// averages is the weights' moving averages of one training graph.
type averages struct {
	vars, shadows []*slim.Var
	sync, swap    *tf.Operation // shadow ← var; exchange var and shadow
}

// newAverages creates the shadow variables (zeros until sync) and the
// sync and swap ops.
func newAverages(s *op.Scope, vs *slim.Vars) *averages {
	a := &averages{}
	for _, v := range vs.All() {
		if averaged(v) {
			a.vars = append(a.vars, v)
			a.shadows = append(a.shadows, vs.Get(v.Name+emaSuffix, v.Shape, v.DType, slim.Slot, v.Layer, slim.Zeros))
		}
	}
	s = s.SubScope("ema")
	var syncs, reads []*tf.Operation
	rv, rs := make([]tf.Output, len(a.vars)), make([]tf.Output, len(a.vars))
	for i, v := range a.vars {
		syncs = append(syncs, op.AssignVariableOp(s.SubScope("sync"), a.shadows[i].Handle, op.ReadVariableOp(s.SubScope("sync_read"), v.Handle, v.DType)))
		rv[i] = op.ReadVariableOp(s.SubScope("swap_read"), v.Handle, v.DType)
		rs[i] = op.ReadVariableOp(s.SubScope("swap_read"), a.shadows[i].Handle, v.DType)
		reads = append(reads, rv[i].Op, rs[i].Op)
	}
	a.sync = s.WithControlDependencies(syncs...).AddOperation(tf.OpSpec{Type: "NoOp", Name: "sync"})
	ws := s.SubScope("swap").WithControlDependencies(reads...) // every value read before any is written
	var swaps []*tf.Operation
	for i, v := range a.vars {
		swaps = append(swaps, op.AssignVariableOp(ws.SubScope("weight"), v.Handle, rs[i]), op.AssignVariableOp(ws.SubScope("average"), a.shadows[i].Handle, rv[i]))
	}
	a.swap = s.WithControlDependencies(swaps...).AddOperation(tf.OpSpec{Type: "NoOp", Name: "swapped"})
	return a
}

// update returns the ops that move every average toward its variable's
// value after the ops in after ran, with decay min(decay, (1+step)/(10+step)).
func (a *averages) update(s *op.Scope, decay float64, step tf.Output, after []*tf.Operation) []*tf.Operation {
	s = s.SubScope("ema_update")
	n := op.Cast(s.SubScope("step"), step, tf.Float)
	one := op.Const(s.SubScope("one"), float32(1))
	warm := op.Div(s.SubScope("warm"), op.AddV2(s.SubScope("n1"), one, n), op.AddV2(s.SubScope("n10"), op.Const(s.SubScope("ten"), float32(10)), n))
	d := op.Minimum(s.SubScope("decay"), op.Const(s.SubScope("max_decay"), float32(decay)), warm)
	rate := op.Sub(s.SubScope("rate"), one, d)
	as := s.WithControlDependencies(after...)
	ups := make([]*tf.Operation, len(a.vars))
	for i, v := range a.vars {
		cur := op.ReadVariableOp(as.SubScope("value"), v.Handle, v.DType)
		sh := a.shadows[i]
		diff := op.Sub(as.SubScope("diff"), op.ReadVariableOp(as.SubScope("average"), sh.Handle, sh.DType), cur)
		ups[i] = op.AssignSubVariableOp(as.SubScope("assign"), sh.Handle, op.Mul(as.SubScope("scaled"), rate, diff))
	}
	return ups
}
