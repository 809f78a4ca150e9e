package tfgraph

import (
	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tlearn/tlearn/tfgraph/slim"
)

// Names of the loss-scaling variables in checkpoints (Keras's
// LossScaleOptimizer calls them current_loss_scale and good_steps).
const (
	lossScaleVar = "loss_scale/current_loss_scale"
	goodStepsVar = "loss_scale/good_steps"
)

// lossScaler is the dynamic loss scaling of one training graph (see
// LossScale): its variables, the scale read once per step, and whether
// this step's gradients are all finite.
type lossScaler struct {
	cfg         LossScale
	scale, good *slim.Var
	read        tf.Output // the scale this step uses, for scaling and unscaling
	finite      tf.Output // bool scalar: every gradient is finite
}

func newLossScaler(s *op.Scope, vs *slim.Vars, cfg LossScale) *lossScaler {
	ls := &lossScaler{cfg: cfg,
		scale: vs.Scalar(lossScaleVar, float32(cfg.Initial)),
		good:  vs.Get(goodStepsVar, []int64{}, tf.Int64, slim.Slot, "", slim.Zeros)}
	ls.read = op.ReadVariableOp(s.SubScope("loss_scale/read"), ls.scale.Handle, tf.Float)
	return ls
}

// scaleLoss returns loss·scale, the tensor to differentiate.
func (ls *lossScaler) scaleLoss(s *op.Scope, loss tf.Output) tf.Output {
	return op.Mul(s.SubScope("loss_scale/scaled_loss"), loss, ls.read)
}

// unscale divides the gradients of the scaled loss by the scale and gates
// them on their all being finite: the returned gradients are live only when
// they are, so every op consuming them (the optimizer's updates) runs only
// then. ls.finite is set for UpdatesIf and apply.
func (ls *lossScaler) unscale(s *op.Scope, grads []tf.Output) []tf.Output {
	s = s.SubScope("loss_scale")
	oks := make([]tf.Output, len(grads))
	for i, g := range grads {
		fs := s.SubScope("finite")
		flat := op.Reshape(fs, g, op.Const(fs.SubScope("flat"), []int32{-1}))
		oks[i] = op.All(fs, op.IsFinite(fs, flat), op.Const(fs.SubScope("axis"), []int32{0}))
	}
	ls.finite = op.All(s.SubScope("all_finite"), op.Pack(s.SubScope("oks"), oks), op.Const(s.SubScope("axis"), []int32{0}))
	inv := op.Reciprocal(s.SubScope("inverse"), ls.read)
	out := make([]tf.Output, len(grads))
	for i, g := range grads {
		gs := s.SubScope("unscaled")
		_, taken := op.Switch(gs, op.Mul(gs, g, inv), ls.finite)
		out[i] = op.Identity(gs.SubScope("taken"), taken)
	}
	return out
}

// apply returns the op that ends a step after updates (which run only on
// a finite step) and adapts the scale: on a finite step the counter grows
// and at GrowthSteps the scale doubles (counter back to 0); otherwise the
// scale halves (not below 1) and the counter restarts.
func (ls *lossScaler) apply(s *op.Scope, updates []*tf.Operation) *tf.Operation {
	s = s.SubScope("loss_scale/adapt")
	// Merge the two branches: live after the updates when finite, at once
	// when not (the updates' ops are dead then).
	skipped, taken := op.Switch(s.SubScope("branch"), ls.finite, ls.finite)
	applied := op.Identity(s.SubScope("applied").WithControlDependencies(updates...), taken)
	done, _ := op.Merge(s.SubScope("done"), []tf.Output{applied, op.Identity(s.SubScope("skipped"), skipped)})

	as := s.WithControlDependencies(done.Op)
	good := op.ReadVariableOp(as.SubScope("good"), ls.good.Handle, tf.Int64)
	next := op.AddV2(as.SubScope("next"), good, op.Const(as.SubScope("one"), int64(1)))
	grow := op.GreaterEqual(as.SubScope("grow"), next, op.Const(as.SubScope("growth_steps"), int64(ls.cfg.GrowthSteps)))
	zero := op.Const(as.SubScope("zero"), int64(0))
	// good' = finite ? (grow ? 0 : good+1) : 0
	newGood := op.Select(as.SubScope("new_good"), ls.finite, op.Select(as.SubScope("grown"), grow, zero, next), zero)
	doubled := op.Mul(as.SubScope("doubled"), ls.read, op.Const(as.SubScope("two"), float32(2)))
	halved := op.Maximum(as.SubScope("halved"), op.Mul(as.SubScope("half"), ls.read, op.Const(as.SubScope("one_half"), float32(0.5))), op.Const(as.SubScope("floor"), float32(1)))
	// scale' = finite ? (grow ? 2·scale : scale) : max(scale/2, 1)
	newScale := op.Select(as.SubScope("new_scale"), ls.finite, op.Select(as.SubScope("maybe_doubled"), grow, doubled, ls.read), halved)
	a1 := op.AssignVariableOp(as.SubScope("assign_good"), ls.good.Handle, newGood)
	a2 := op.AssignVariableOp(as.SubScope("assign_scale"), ls.scale.Handle, newScale)
	return s.WithControlDependencies(a1, a2).AddOperation(tf.OpSpec{Type: "NoOp", Name: "adapted"})
}
