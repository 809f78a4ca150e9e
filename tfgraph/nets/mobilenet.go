package nets

import (
	tf "github.com/wamuir/graft/tensorflow"

	"github.com/tlearn/tlearn/imagenorm"
	"github.com/tlearn/tlearn/tfgraph/slim"
)

// mobilenetV1Args is mobilenet_v1_arg_scope: every conv and depthwise conv
// batch-normalised (decay 0.9997, epsilon 1e-3, with gamma) and ReLU6, SAME
// padding. Weights not from a checkpoint start He-uniform (slim uses a
// truncated normal of stddev 0.09).
var mobilenetV1Args = slim.Args{Norm: &slim.BatchNorm{Decay: 0.9997, Epsilon: 1e-3, Scale: true}, Act: slim.Relu6, Init: slim.HeUniform}

// mobilenetV2Args is mobilenet_v2's training_scope with V2_DEF's defaults:
// batch norm decay 0.997, epsilon 1e-3 (slim's default), with gamma, ReLU6,
// SAME padding.
var mobilenetV2Args = slim.Args{Norm: &slim.BatchNorm{Decay: 0.997, Epsilon: 1e-3, Scale: true}, Act: slim.Relu6, Init: slim.HeUniform}

// mobilenetV1 is TF-Slim's nets/mobilenet_v1.py mobilenet_v1 at depth
// multiplier 1: Conv2d_0 (3×3/2, 32), thirteen depthwise-separable layers
// Conv2d_i_depthwise (3×3 depthwise) + Conv2d_i_pointwise (1×1), then under
// Logits the average pool over the whole map (slim's AvgPool_1a, whose
// kernel is the map for inputs up to 224 px; a global mean here so that any
// size works), Dropout_1b and the 1×1 logits conv Conv2d_1c_1x1.
func mobilenetV1(b *slim.B, x tf.Output, classes int) Out {
	x = slim.Conv(b.Scope("Conv2d_0"), x, 32, 3, slim.Stride(2))
	for i, l := range []struct{ stride, depth int }{
		{1, 64}, {2, 128}, {1, 128}, {2, 256}, {1, 256}, {2, 512},
		{1, 512}, {1, 512}, {1, 512}, {1, 512}, {1, 512}, {2, 1024}, {1, 1024},
	} {
		x = slim.Depthwise(b.Scope("Conv2d_%d_depthwise", i+1), x, 3, slim.Stride(l.stride))
		x = slim.Conv(b.Scope("Conv2d_%d_pointwise", i+1), x, l.depth, 1)
	}
	lb := b.Scope("Logits")
	x = slim.GlobalAvgPool(lb.Scope("AvgPool_1a"), x)
	x = slim.Dropout(lb.Scope("Dropout_1b"), x)
	return Out{Logits: slim.Logits(lb.Scope("Conv2d_1c_1x1"), x, classes)}
}

// makeDivisible is mobilenet's _make_divisible(v, 8): v rounded to the
// nearest multiple of 8 (at least 8), one step up if that lost more than
// 10%.
func makeDivisible(v float64) int {
	const d = 8
	n := max(d, int(v+d/2)/d*d)
	if float64(n) < 0.9*v {
		n += d
	}
	return n
}

// mobilenetV2 is TF-Slim's nets/mobilenet/mobilenet_v2.py (V2_DEF) at depth
// multiplier mult: Conv (3×3/2), seventeen inverted residuals
// expanded_conv, expanded_conv_1..16 (expand 1×1 to 6× the input depth,
// depthwise 3×3, linear project 1×1; the first has no expansion; a residual
// add when the stride is 1 and the depth is kept), Conv_1 (1×1, 1280·mult
// for mult > 1), then under Logits the global average pool, Dropout and the
// 1×1 logits conv Conv2d_1c_1x1. Every depth is make_divisible(d·mult, 8).
func mobilenetV2(mult float64) func(b *slim.B, x tf.Output, classes int) Out {
	depth := func(d int) int { return makeDivisible(float64(d) * mult) }
	return func(b *slim.B, x tf.Output, classes int) Out {
		x = slim.Conv(b.Scope("Conv"), x, depth(32), 3, slim.Stride(2))
		blocks := []struct{ expansion, stride, depth, n int }{
			{1, 1, 16, 1}, {6, 2, 24, 2}, {6, 2, 32, 3}, {6, 2, 64, 4}, {6, 1, 96, 3}, {6, 2, 160, 3}, {6, 1, 320, 1},
		}
		i := 0
		for _, blk := range blocks {
			for u := range blk.n {
				stride := 1
				if u == 0 {
					stride = blk.stride
				}
				bb := b.Scope("expanded_conv")
				if i > 0 {
					bb = b.Scope("expanded_conv_%d", i)
				}
				x = invertedResidual(bb, x, blk.expansion, stride, depth(blk.depth))
				i++
			}
		}
		last := 1280
		if mult > 1 {
			last = depth(1280)
		}
		x = slim.Conv(b.Scope("Conv_1"), x, last, 1)
		lb := b.Scope("Logits")
		x = slim.GlobalAvgPool(lb.Scope("AvgPool"), x)
		x = slim.Dropout(lb.Scope("Dropout"), x)
		return Out{Logits: slim.Logits(lb.Scope("Conv2d_1c_1x1"), x, classes)}
	}
}

// invertedResidual is mobilenet's ops.expanded_conv: expand (a 1×1 conv to
// make_divisible(in·expansion) channels, only if that is more than in),
// depthwise (3×3, strided), project (1×1, linear), plus the input when the
// stride is 1 and the depth is kept.
func invertedResidual(b *slim.B, x tf.Output, expansion, stride, out int) tf.Output {
	in := slim.Channels(x)
	y := x
	if inner := in * expansion; expansion > 1 && makeDivisible(float64(inner)) > in {
		y = slim.Conv(b.Scope("expand"), y, makeDivisible(float64(inner)), 1)
	}
	y = slim.Depthwise(b.Scope("depthwise"), y, 3, slim.Stride(stride))
	y = slim.Conv(b.Scope("project"), y, out, 1, slim.Linear)
	if stride == 1 && in == out {
		y = slim.Add(b, x, y)
	}
	return y
}

func mobilenetNet(name, scope string, args slim.Args, build func(b *slim.B, x tf.Output, classes int) Out) Net {
	return Net{
		Name: name, Scope: scope, DefaultInput: 224, MinInput: 32,
		Norm: imagenorm.PlusMinusOne, HeadScopes: []string{"Logits"}, CheckpointClasses: 1001,
		Build: func(b *slim.B, images tf.Output, classes int) Out {
			return build(b.Scope("%s", scope).With(args), images, classes)
		},
	}
}

func init() {
	register(mobilenetNet("mobilenet_v1", "MobilenetV1", mobilenetV1Args, mobilenetV1))
	register(mobilenetNet("mobilenet_v2", "MobilenetV2", mobilenetV2Args, mobilenetV2(1.0)))
	register(mobilenetNet("mobilenet_v2_140", "MobilenetV2", mobilenetV2Args, mobilenetV2(1.4)))
}
