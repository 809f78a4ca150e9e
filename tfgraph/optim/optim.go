// Package optim holds the optimizers and learning-rate schedules of the
// training graph, as values behind interfaces chosen by configuration
// (tf.compat.v1.train semantics, so parity tests compare step by step).
package optim

import (
	"math"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tlearn/tlearn/tfgraph/slim"
)

// Optimizer builds the update ops of one training step.
type Optimizer interface {
	// Apply returns ops that update each of params by its gradient, params[i]
	// with learning rate lrs[i] (Same gives every one the same), creating slot
	// variables in vs as needed.
	Apply(s *op.Scope, vs *slim.Vars, params []*slim.Var, grads []tf.Output, lrs []tf.Output) []*tf.Operation
}

// Same returns lr n times: one learning rate for all of Apply's params.
func Same(lr tf.Output, n int) []tf.Output {
	lrs := make([]tf.Output, n)
	for i := range lrs {
		lrs[i] = lr
	}
	return lrs
}

// Momentum is tf.compat.v1.train.MomentumOptimizer: a ← m·a + g, then
// w ← w − lr·a, or with Nesterov w ← w − lr·(g + m·a); one slot
// "<var>/Momentum" per variable.
type Momentum struct {
	Momentum float64
	Nesterov bool
}

// Apply implements Optimizer.
func (o Momentum) Apply(s *op.Scope, vs *slim.Vars, params []*slim.Var, grads []tf.Output, lrs []tf.Output) []*tf.Operation {
	ms := s.SubScope("Momentum")
	mom := op.Const(ms.SubScope("momentum"), float32(o.Momentum))
	ups := make([]*tf.Operation, len(params))
	for i, v := range params {
		slot := vs.Slot(v, "Momentum")
		ups[i] = op.ResourceApplyMomentum(ms.SubScope("update"), v.Handle, slot.Handle, lrs[i], grads[i], mom,
			op.ResourceApplyMomentumUseNesterov(o.Nesterov))
	}
	return ups
}

// Adam is tf.compat.v1.train.AdamOptimizer: slots "<var>/Adam" (m) and
// "<var>/Adam_1" (v), and the non-slot scalars "beta1_power" and
// "beta2_power" (starting at Beta1, Beta2, multiplied by them after each
// step's updates). WeightDecay > 0 makes it AdamW (Loshchilov & Hutter, as
// Keras's and PyTorch's AdamW): before the Adam step every regularised
// weight (conv/fc kernels, as slim's L2) is decayed in place,
// w ← w − lr·WeightDecay·w, with the scheduled lr; the loss then carries no
// L2 term. The slots are Adam's, so TensorFlow's AdamOptimizer restores them.
type Adam struct {
	Beta1, Beta2, Epsilon float64
	WeightDecay           float64
}

// Apply implements Optimizer.
func (o Adam) Apply(s *op.Scope, vs *slim.Vars, params []*slim.Var, grads []tf.Output, lrs []tf.Output) []*tf.Operation {
	as := s.SubScope("Adam")
	b1p, b2p := vs.Scalar("beta1_power", float32(o.Beta1)), vs.Scalar("beta2_power", float32(o.Beta2))
	b1 := op.Const(as.SubScope("beta1"), float32(o.Beta1))
	b2 := op.Const(as.SubScope("beta2"), float32(o.Beta2))
	eps := op.Const(as.SubScope("epsilon"), float32(o.Epsilon))
	decayRate := map[tf.Output]tf.Output{} // lr·WeightDecay, per distinct lr
	rate := func(lr tf.Output) tf.Output {
		if r, ok := decayRate[lr]; ok {
			return r
		}
		r := op.Mul(as.SubScope("decay_rate"), lr, op.Const(as.SubScope("weight_decay"), float32(o.WeightDecay)))
		decayRate[lr] = r
		return r
	}
	var gradOps []*tf.Operation
	for _, g := range grads {
		gradOps = append(gradOps, g.Op)
	}
	ups := make([]*tf.Operation, len(params))
	for i, v := range params {
		m, u := vs.Slot(v, "Adam"), vs.Slot(v, "Adam_1")
		us := as.SubScope("update")
		if o.WeightDecay > 0 && v.Regularized {
			// After every gradient, so the forward read the undecayed weights.
			ds := as.SubScope("decay").WithControlDependencies(gradOps...)
			dec := op.AssignSubVariableOp(ds, v.Handle, op.Mul(ds, rate(lrs[i]), op.ReadVariableOp(ds, v.Handle, v.DType)))
			us = us.WithControlDependencies(dec)
		}
		ups[i] = op.ResourceApplyAdam(us, v.Handle, m.Handle, u.Handle, b1p.Read, b2p.Read, lrs[i], b1, b2, eps, grads[i])
	}
	// TensorFlow's _finish: the powers advance after every update.
	fs := as.SubScope("finish").WithControlDependencies(ups...)
	return []*tf.Operation{
		op.AssignVariableOp(fs.SubScope("beta1"), b1p.Handle, op.Mul(fs.SubScope("beta1"), op.ReadVariableOp(fs.SubScope("beta1"), b1p.Handle, tf.Float), b1)),
		op.AssignVariableOp(fs.SubScope("beta2"), b2p.Handle, op.Mul(fs.SubScope("beta2"), op.ReadVariableOp(fs.SubScope("beta2"), b2p.Handle, tf.Float), b2)),
	}
}

// RMSProp is tf.compat.v1.train.RMSPropOptimizer (centered=False): slots
// "<var>/RMSProp" (the mean square, starting at ones as TensorFlow's) and
// "<var>/RMSProp_1" (momentum): ms ← ρ·ms + (1−ρ)·g²;
// mom ← m·mom + lr·g/√(ms+ε); w ← w − mom.
type RMSProp struct{ Rho, Momentum, Epsilon float64 }

// Apply implements Optimizer.
func (o RMSProp) Apply(s *op.Scope, vs *slim.Vars, params []*slim.Var, grads []tf.Output, lrs []tf.Output) []*tf.Operation {
	rs := s.SubScope("RMSProp")
	rho := op.Const(rs.SubScope("rho"), float32(o.Rho))
	mom := op.Const(rs.SubScope("momentum"), float32(o.Momentum))
	eps := op.Const(rs.SubScope("epsilon"), float32(o.Epsilon))
	ups := make([]*tf.Operation, len(params))
	for i, v := range params {
		ms := vs.Get(v.Name+"/RMSProp", v.Shape, v.DType, slim.Slot, v.Layer, slim.Ones)
		mo := vs.Slot(v, "RMSProp_1")
		ups[i] = op.ResourceApplyRMSProp(rs.SubScope("update"), v.Handle, ms.Handle, mo.Handle, lrs[i], rho, mom, eps, grads[i])
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

// Cosine is tf.compat.v1.train.cosine_decay(Initial, step, Steps,
// alpha=End/Initial): End + (Initial − End)·(1 + cos(π·min(step, Steps)/Steps))/2.
type Cosine struct {
	Initial, End float64
	Steps        int64
}

// LR implements Schedule.
func (c Cosine) LR(s *op.Scope, step tf.Output) tf.Output {
	ls := s.SubScope("learning_rate")
	steps := op.Const(ls.SubScope("decay_steps"), float32(c.Steps))
	frac := op.Div(ls, op.Minimum(ls, op.Cast(ls, step, tf.Float), steps), steps)
	cos := op.Cos(ls, op.Mul(ls.SubScope("angle"), op.Const(ls.SubScope("pi"), float32(math.Pi)), frac))
	half := op.Mul(ls.SubScope("cosine"), op.Const(ls.SubScope("half"), float32(0.5)), op.AddV2(ls.SubScope("shift"), op.Const(ls.SubScope("one"), float32(1)), cos))
	end := op.Const(ls.SubScope("end"), float32(c.End))
	return op.AddV2(ls, op.Mul(ls.SubScope("scaled"), op.Const(ls.SubScope("range"), float32(c.Initial-c.End)), half), end)
}

// Step is step decay, tf.compat.v1.train.exponential_decay(Initial, step,
// Every, Gamma, staircase=True): Initial·Gamma^floor(step/Every).
type Step struct {
	Initial, Gamma float64
	Every          int64
}

// LR implements Schedule.
func (p Step) LR(s *op.Scope, step tf.Output) tf.Output {
	ls := s.SubScope("learning_rate")
	k := op.Floor(ls, op.Div(ls, op.Cast(ls, step, tf.Float), op.Const(ls.SubScope("every"), float32(p.Every))))
	return op.Mul(ls, op.Const(ls.SubScope("initial"), float32(p.Initial)), op.Pow(ls, op.Const(ls.SubScope("gamma"), float32(p.Gamma)), k))
}

// Warmup rises linearly from 0 to Peak over the first Steps steps
// (lr = Peak·step/Steps), then follows Then at step − Steps: Then's own
// decay length should be the run's steps minus the warmup.
type Warmup struct {
	Peak  float64
	Steps int64
	Then  Schedule
}

// LR implements Schedule.
func (w Warmup) LR(s *op.Scope, step tf.Output) tf.Output {
	ws := s.SubScope("warmup")
	n := op.Const(ws.SubScope("steps"), w.Steps)
	after := w.Then.LR(s, op.Maximum(ws, op.Sub(ws, step, n), op.Const(ws.SubScope("zero"), int64(0))))
	ramp := op.Mul(ws, op.Const(ws.SubScope("peak"), float32(w.Peak)),
		op.Div(ws, op.Cast(ws, step, tf.Float), op.Const(ws.SubScope("steps_f"), float32(w.Steps))))
	return op.Select(ws, op.Less(ws, step, n), ramp, after)
}
