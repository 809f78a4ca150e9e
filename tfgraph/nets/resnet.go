package nets

import (
	tf "github.com/wamuir/graft/tensorflow"

	"github.com/tlearn/tlearn/imagenorm"
	"github.com/tlearn/tlearn/tfgraph/slim"
)

// resBlock is one of resnet_utils.Block: units bottleneck units of depth
// 4·base with base-wide inner convs; the last unit has the stride (TF-Slim's
// resnet_v1_block).
type resBlock struct {
	scope               string
	base, units, stride int
}

// resnetArgs is resnet_utils.resnet_arg_scope: every conv batch-normalised
// (decay 0.997, epsilon 1e-5, with gamma) and ReLU. Weights not from a
// checkpoint start He-uniform (slim uses He's truncated normal).
var resnetArgs = slim.Args{Norm: &slim.BatchNorm{Decay: 0.997, Epsilon: 1e-5, Scale: true}, Init: slim.HeUniform}

// resnetV1 is TF-Slim's nets/resnet_v1.py resnet_v1 (global pool, no
// output stride, spatial squeeze): the 7×7/2 root conv and 3×3/2 max pool,
// the blocks of bottleneck_v1 units, the global average pool and a 1×1
// logits conv.
func resnetV1(blocks []resBlock) func(b *slim.B, images tf.Output, classes int) Out {
	return func(b *slim.B, x tf.Output, classes int) Out {
		x = slim.ConvSame(b.Scope("conv1"), x, 64, 7, 2)
		x = slim.MaxPool(b.Scope("pool1"), x, 3, 2, "SAME")
		x = stackBlocks(b, x, blocks, bottleneckV1)
		x = slim.GlobalAvgPool(b.Scope("pool5"), x)
		return Out{Logits: slim.Logits(b.Scope("logits"), x, classes)}
	}
}

// resnetV2 is TF-Slim's nets/resnet_v2.py resnet_v2 (pre-activation; global
// pool, no output stride): the root conv 7×7/2 without batch norm or
// activation (with biases) and the 3×3/2 max pool, the blocks of
// bottleneck_v2 units, "postnorm" (batch norm + ReLU: the last unit's
// output is not normalised otherwise), the global average pool and a 1×1
// logits conv.
func resnetV2(blocks []resBlock) func(b *slim.B, images tf.Output, classes int) Out {
	return func(b *slim.B, x tf.Output, classes int) Out {
		x = slim.ConvSame(b.Scope("conv1"), x, 64, 7, 2, slim.NoNorm, slim.Linear)
		x = slim.MaxPool(b.Scope("pool1"), x, 3, 2, "SAME")
		x = stackBlocks(b, x, blocks, bottleneckV2)
		x = slim.BatchNormAct(b.Scope("postnorm"), x)
		x = slim.GlobalAvgPool(b.Scope("pool5"), x)
		return Out{Logits: slim.Logits(b.Scope("logits"), x, classes)}
	}
}

// unitFunc is one bottleneck unit of depth channels with inner-wide convs.
type unitFunc func(b *slim.B, x tf.Output, depth, inner, stride int) tf.Output

// stackBlocks is resnet_utils.stack_blocks_dense without output stride:
// each block's units under block/unit_K, the last unit strided.
func stackBlocks(b *slim.B, x tf.Output, blocks []resBlock, unit unitFunc) tf.Output {
	for _, blk := range blocks {
		bb := b.Scope("%s", blk.scope)
		for u := range blk.units {
			stride := 1
			if u == blk.units-1 {
				stride = blk.stride
			}
			x = unit(bb.Scope("unit_%d", u+1), x, 4*blk.base, blk.base, stride)
		}
	}
	return x
}

// bottleneckV1 is resnet_v1.bottleneck: 1×1, 3×3 (conv2d_same, strided),
// 1×1 linear, plus the shortcut (the input subsampled, or a strided 1×1
// linear conv when the depth changes), then ReLU.
func bottleneckV1(b *slim.B, x tf.Output, depth, inner, stride int) tf.Output {
	b = b.Scope("bottleneck_v1")
	shortcut := slim.Subsample(b.Scope("shortcut"), x, stride)
	if slim.Channels(x) != depth {
		shortcut = slim.Conv(b.Scope("shortcut"), x, depth, 1, slim.Stride(stride), slim.Linear)
	}
	r := slim.Conv(b.Scope("conv1"), x, inner, 1)
	r = slim.ConvSame(b.Scope("conv2"), r, inner, 3, stride)
	r = slim.Conv(b.Scope("conv3"), r, depth, 1, slim.Linear)
	return slim.Relu(b, slim.Add(b, shortcut, r))
}

// bottleneckV2 is resnet_v2.bottleneck, the full pre-activation unit:
// "preact" (batch norm + ReLU of the input), then 1×1, 3×3 (conv2d_same,
// strided) and a 1×1 conv3 with biases and neither batch norm nor
// activation, plus the shortcut: the input itself subsampled when the depth
// is kept, else a strided 1×1 conv of preact with biases and no batch norm.
// No activation after the sum (the next unit's preact is it).
func bottleneckV2(b *slim.B, x tf.Output, depth, inner, stride int) tf.Output {
	b = b.Scope("bottleneck_v2")
	preact := slim.BatchNormAct(b.Scope("preact"), x)
	var shortcut tf.Output
	if slim.Channels(x) == depth {
		shortcut = slim.Subsample(b.Scope("shortcut"), x, stride)
	} else {
		shortcut = slim.Conv(b.Scope("shortcut"), preact, depth, 1, slim.Stride(stride), slim.NoNorm, slim.Linear)
	}
	r := slim.Conv(b.Scope("conv1"), preact, inner, 1)
	r = slim.ConvSame(b.Scope("conv2"), r, inner, 3, stride)
	r = slim.Conv(b.Scope("conv3"), r, depth, 1, slim.NoNorm, slim.Linear)
	return slim.Add(b, shortcut, r)
}

func resnetV1Net(name string, blocks []resBlock, defaultIn int) Net {
	build := resnetV1(blocks)
	return Net{
		Name: name, Scope: name, DefaultInput: defaultIn, MinInput: 32,
		Norm: imagenorm.MeanSubtract, HeadScopes: []string{"logits"}, CheckpointClasses: 1000,
		Build: func(b *slim.B, images tf.Output, classes int) Out {
			return build(b.Scope("%s", name).With(resnetArgs), images, classes)
		},
	}
}

// resnetV2Net: slim's resnet_v2 checkpoints (resnet_v2_50_2017_04_14, …)
// were trained on inception preprocessing, RGB scaled to [-1, 1], with the
// background class 0 (1001 outputs).
func resnetV2Net(name string, blocks []resBlock) Net {
	build := resnetV2(blocks)
	return Net{
		Name: name, Scope: name, DefaultInput: 224, MinInput: 32,
		Norm: imagenorm.PlusMinusOne, HeadScopes: []string{"logits"}, CheckpointClasses: 1001,
		Build: func(b *slim.B, images tf.Output, classes int) Out {
			return build(b.Scope("%s", name).With(resnetArgs), images, classes)
		},
	}
}

func v1Blocks(units [4]int) []resBlock {
	return []resBlock{{"block1", 64, units[0], 2}, {"block2", 128, units[1], 2}, {"block3", 256, units[2], 2}, {"block4", 512, units[3], 1}}
}

func init() {
	register(resnetV1Net("resnet_v1_50", v1Blocks([4]int{3, 4, 6, 3}), 224))
	register(resnetV1Net("resnet_v1_101", v1Blocks([4]int{3, 4, 23, 3}), 224))
	register(resnetV1Net("resnet_v1_152", v1Blocks([4]int{3, 8, 36, 3}), 224))
	// resnet_v2_block has resnet_v1_block's depths and strides.
	register(resnetV2Net("resnet_v2_50", v1Blocks([4]int{3, 4, 6, 3})))
	register(resnetV2Net("resnet_v2_101", v1Blocks([4]int{3, 4, 23, 3})))
	register(resnetV2Net("resnet_v2_152", v1Blocks([4]int{3, 8, 36, 3})))
	// resnet_mini: resnet_v1's code (root, bottlenecks with conv and identity
	// shortcuts, strided last units, global pool) with three narrow blocks,
	// for 32–64 px tests and demos on a CPU.
	register(resnetV1Net("resnet_mini", []resBlock{{"block1", 16, 2, 2}, {"block2", 32, 2, 2}, {"block3", 64, 1, 1}}, 64))
}
