package tfgraph

import (
	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// clip applies Config.ClipNorm to the gradients (unchanged when 0).
func (m *Model) clip(s *op.Scope, grads []tf.Output) []tf.Output {
	if m.cfg.ClipNorm <= 0 {
		return grads
	}
	return clipByGlobalNorm(s.SubScope("clip_by_global_norm"), grads, m.cfg.ClipNorm)
}

// clipByGlobalNorm is tf.clip_by_global_norm(grads, c)[0] op for op: the
// global norm n = √(Σ 2·l2_loss(g)), every gradient multiplied by
// c·min(1/n, 1/c) (so a NaN or Inf norm makes every gradient NaN, as
// TensorFlow's does, rather than silently passing them through).
func clipByGlobalNorm(s *op.Scope, grads []tf.Output, c float64) []tf.Output {
	sq := make([]tf.Output, len(grads))
	for i, g := range grads {
		sq[i] = op.L2Loss(s.SubScope("l2"), g)
	}
	two := op.Const(s.SubScope("two"), float32(2))
	norm := op.Sqrt(s.SubScope("global_norm"), op.Mul(s.SubScope("sum_sq"), op.AddN(s.SubScope("sum"), sq), two))
	cc := op.Const(s.SubScope("clip_norm"), float32(c))
	one := op.Const(s.SubScope("one"), float32(1))
	scale := op.Mul(s.SubScope("scale"), cc, op.Minimum(s.SubScope("min"),
		op.RealDiv(s.SubScope("inv_norm"), one, norm), op.RealDiv(s.SubScope("inv_clip"), one, cc)))
	out := make([]tf.Output, len(grads))
	for i, g := range grads {
		out[i] = op.Mul(s.SubScope("clipped"), g, scale)
	}
	return out
}
