// Package optim holds the optimizers and learning-rate schedules of the
// training graph, as values behind interfaces chosen by configuration
// (tf.compat.v1.train semantics, so parity tests compare step by step).
package optim

import (
	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tlearn/tlearn/tfgraph/slim"
)

// Optimizer builds the update ops of one training step.
type Optimizer interface {
	// Apply returns ops that update each of params by its gradient with
	// learning rate lr, creating slot variables in vs as needed.
	Apply(s *op.Scope, vs *slim.Vars, params []*slim.Var, grads []tf.Output, lr tf.Output) []*tf.Operation
}

// Momentum is tf.compat.v1.train.MomentumOptimizer (use_nesterov=False):
// a ← m·a + g; w ← w − lr·a, one slot "<var>/Momentum" per variable.
type Momentum struct{ Momentum float64 }

// Apply implements Optimizer.
func (o Momentum) Apply(s *op.Scope, vs *slim.Vars, params []*slim.Var, grads []tf.Output, lr tf.Output) []*tf.Operation {
	ms := s.SubScope("Momentum")
	mom := op.Const(ms.SubScope("momentum"), float32(o.Momentum))
	ups := make([]*tf.Operation, len(params))
	for i, v := range params {
		slot := vs.Slot(v, "Momentum")
		ups[i] = op.ResourceApplyMomentum(ms.SubScope("update"), v.Handle, slot.Handle, lr, grads[i], mom)
	}
	return ups
}

// Schedule is a learning rate as a function of the global step.
type Schedule interface {
	// LR returns the float32 learning rate at step (an int64 scalar).
	LR(s *op.Scope, step tf.Output) tf.Output
}

// Constant is a fixed learning rate.
type Constant struct{ LR0 float64 }

// LR implements Schedule.
func (c Constant) LR(s *op.Scope, step tf.Output) tf.Output {
	return op.Const(s.SubScope("learning_rate"), float32(c.LR0))
}

// Polynomial is tf.compat.v1.train.polynomial_decay(Initial, step, Steps,
// End, Power, cycle=False), computed in float32 like TensorFlow:
// (Initial − End)·(1 − min(step, Steps)/Steps)^Power + End.
type Polynomial struct {
	Initial, End, Power float64
	Steps               int64
}

// LR implements Schedule.
func (p Polynomial) LR(s *op.Scope, step tf.Output) tf.Output {
	ls := s.SubScope("learning_rate")
	lr0 := op.Const(ls.SubScope("initial"), float32(p.Initial))
	end := op.Const(ls.SubScope("end"), float32(p.End))
	steps := op.Const(ls.SubScope("decay_steps"), float32(p.Steps))
	gs := op.Cast(ls, step, tf.Float)
	frac := op.Div(ls, op.Minimum(ls, gs, steps), steps)
	one := op.Const(ls.SubScope("one"), float32(1))
	pw := op.Pow(ls, op.Sub(ls.SubScope("remaining"), one, frac), op.Const(ls.SubScope("power"), float32(p.Power)))
	return op.AddV2(ls, op.Mul(ls, op.Sub(ls.SubScope("range"), lr0, end), pw), end)
}
