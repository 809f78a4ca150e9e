package slim

import (
	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// Depthwise is slim.separable_conv2d(x, None, k, depth_multiplier=1): one
// k×k filter per input channel, weights "depthwise_weights" [k,k,in,1], then
// batch norm (Args.Norm, unless NoNorm) or biases, then the activation
// (Args.Act, ReLU by default, unless Linear), as Conv. The weights are not
// in the L2 weight decay (slim's MobileNets set no regularizer on
// separable_conv2d). Args.Init HeUniform counts the fan-in as k·k
// (HeUniformDepthwise).
func Depthwise(b *B, x tf.Output, k int, opts ...Opt) tf.Output {
	o := convOpts{stride: 1, rate: 1, padding: b.args.Padding}
	if o.padding == "" {
		o.padding = "SAME"
	}
	for _, f := range opts {
		f(&o)
	}
	in := Channels(x)
	init := b.args.Init
	if init == HeUniform {
		init = HeUniformDepthwise
	}
	w := b.Var("depthwise_weights", []int64{int64(k), int64(k), int64(in), 1}, Weight, init)
	w.Regularized = false
	y := op.DepthwiseConv2dNative(b.sub("depthwise"), x, w.Read, []int64{1, int64(o.stride), int64(o.stride), 1}, o.padding,
		op.DepthwiseConv2dNativeDilations([]int64{1, int64(o.rate), int64(o.rate), 1}), op.DepthwiseConv2dNativeDataFormat("NHWC"))
	return normAct(b, y, in, o)
}
