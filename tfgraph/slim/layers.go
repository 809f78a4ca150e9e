package slim

import (
	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tlearn/tlearn/tfgraph/winograd"
)

// Opt modifies one Conv call.
type Opt func(*convOpts)

type convOpts struct {
	stride, rate int
	linear       bool
	noNorm       bool
	padding      string
	kh, kw       int  // non-square kernel (Kernel); 0: k×k
	zeroBias     bool // biases start at zero whatever Args.BiasInit says
	inputStd     float64
}

// InputStd marks the conv as reading values whose standard deviation is std
// with no batch norm after it: the first conv of a net fed 0..255 pixels
// minus the means (std ≈ 58). He's and Glorot's initialisers assume
// unit-variance inputs; a model whose weights start from their initialisers
// can then start and train this layer as if its inputs were normalised
// (Vars.ScaleInputs, Var.InputStd).
func InputStd(std float64) Opt { return func(o *convOpts) { o.inputStd = std } }

// Kernel makes the conv's kernel h×w instead of k×k (inception's 1×7, 7×1,
// 1×3, 3×1 convs; the k argument of Conv is then ignored).
func Kernel(h, w int) Opt { return func(o *convOpts) { o.kh, o.kw = h, w } }

// Stride sets the conv's stride (default 1).
func Stride(n int) Opt { return func(o *convOpts) { o.stride = n } }

// Rate sets the conv's dilation rate (default 1).
func Rate(d int) Opt { return func(o *convOpts) { o.rate = d } }

// Padding sets "SAME" or "VALID" for this conv.
func Padding(p string) Opt { return func(o *convOpts) { o.padding = p } }

// Linear: no activation after the conv (slim activation_fn=None).
func Linear(o *convOpts) { o.linear = true }

// NoNorm: biases instead of the arg scope's batch norm (slim normalizer_fn=None).
func NoNorm(o *convOpts) { o.noNorm = true }

// Channels returns the static size of x's last dimension.
func Channels(x tf.Output) int {
	s := x.Shape()
	return int(s.Size(s.NumDimensions() - 1))
}

// Side returns x's static spatial size (height, width) of NHWC x.
func Side(x tf.Output) (h, w int) {
	s := x.Shape()
	return int(s.Size(1)), int(s.Size(2))
}

// Conv is slim.conv2d under b's scope: weights [k,k,in,out] (or [h,w,in,out]
// with Kernel), then batch
// norm (Args.Norm, unless NoNorm) or biases, then the activation (Args.Act,
// ReLU by default, unless Linear).
//
// A VALID conv whose kernel covers its whole input map, and any 1×1 conv of
// a [n,c] input, is one dot product per output: it is computed as a MatMul
// of the flattened map (h, w, c order) by the kernel reshaped to
// [k·k·in, out] and returns [n, out] (fully connected layers; oneDNN ran
// VGG's 7×7 fc6 ~3× slower as a conv), unless it is batch-normalised
// (inception's aux conv: batch norm wants NHWC). The variables keep slim's
// 4-D shapes.
func Conv(b *B, x tf.Output, out, k int, opts ...Opt) tf.Output {
	o := convOpts{stride: 1, rate: 1, padding: b.args.Padding}
	if o.padding == "" {
		o.padding = "SAME"
	}
	for _, f := range opts {
		f(&o)
	}
	kh, kw := k, k
	if o.kh > 0 {
		kh, kw = o.kh, o.kw
	}
	in := Channels(x)
	w := b.st.vars.get(join(b.prefix, "weights"), []int64{int64(kh), int64(kw), int64(in), int64(out)}, tf.Float, Weight, b.prefix, b.args.Init, o.inputStd)
	var y tf.Output
	rank := x.Shape().NumDimensions()
	h, wd := 0, 0
	if rank == 4 {
		h, wd = Side(x)
	}
	switch {
	case rank == 2 || (o.padding == "VALID" && o.stride == 1 && o.rate == 1 && h == kh && wd == kw && (b.args.Norm == nil || o.noNorm)):
		if rank == 2 && (kh != 1 || kw != 1) {
			b.fail("%s: %d×%d conv of a [n,c] input", b.prefix, kh, kw)
			return x
		}
		n := int64(kh * kw * in)
		flat := x
		if rank == 4 {
			flat = op.Reshape(b.sub("flatten"), x, op.Const(b.sub("flatten_shape"), []int64{-1, n}))
		}
		w2 := op.Reshape(b.sub("kernel_2d"), w.Read, op.Const(b.sub("kernel_2d_shape"), []int64{n, int64(out)}))
		y = op.MatMul(b.sub("MatMul"), flat, w2)
	case b.mode.Winograd != nil && kh == 3 && kw == 3 && o.stride == 1 && o.rate == 1 && o.padding == "SAME" && h > 0 && wd > 0 && b.mode.Winograd(in, out):
		b.st.winograd = true
		y = winograd.Conv(b.sub("winograd"), x, w.Read, int64(h), int64(wd), int64(in), int64(out))
	default:
		y = op.Conv2D(b.sub("Conv2D"), x, w.Read, []int64{1, int64(o.stride), int64(o.stride), 1}, o.padding,
			op.Conv2DDilations([]int64{1, int64(o.rate), int64(o.rate), 1}), op.Conv2DDataFormat("NHWC"))
	}
	return normAct(b, y, out, o)
}

// normAct is the tail of a conv layer of out channels: batch norm (Args.Norm,
// unless NoNorm) or biases, then the activation (Args.Act, ReLU by default,
// unless Linear).
func normAct(b *B, y tf.Output, out int, o convOpts) tf.Output {
	if b.args.Norm != nil && !o.noNorm {
		y = batchNorm(b.Scope("BatchNorm"), y, *b.args.Norm)
	} else {
		init := Zeros
		if b.args.BiasInit != GlorotUniform && !o.zeroBias {
			init = b.args.BiasInit
		}
		bias := b.Var("biases", []int64{int64(out)}, Bias, init)
		y = op.BiasAdd(b.sub("BiasAdd"), y, bias.Read)
	}
	if !o.linear {
		act := b.args.Act
		if act == nil {
			act = Relu
		}
		y = act(b, y)
	}
	return y
}

// BatchNormAct is slim.batch_norm(x) with an activation (Args.Act, ReLU by
// default) under b's own scope, without a conv: the variables are
// <scope>/gamma, beta, moving_mean, moving_variance (resnet_v2's preact and
// postnorm). Args.Norm must be set. The layer of its variables is the scope
// itself, a layer without weights, so --trainable last-N never counts it.
func BatchNormAct(b *B, x tf.Output) tf.Output {
	if b.args.Norm == nil {
		b.fail("%s: batch norm without Args.Norm", b.prefix)
		return x
	}
	y := batchNorm(b, x, *b.args.Norm)
	act := b.args.Act
	if act == nil {
		act = Relu
	}
	return act(b, y)
}

// ConvSame is resnet_utils.conv2d_same: a SAME conv at stride 1, and for
// stride > 1 an explicit symmetric zero padding of k−1 (independent of the
// input size) followed by a VALID conv.
func ConvSame(b *B, x tf.Output, out, k, stride int, opts ...Opt) tf.Output {
	if stride == 1 {
		return Conv(b, x, out, k, append(opts, Padding("SAME"))...)
	}
	total := int32(k - 1)
	beg, end := total/2, total-total/2
	// int32 paddings: the C++ gradient of Pad slices with them and an int32 shape.
	x = op.Pad(b.sub("Pad"), x, op.Const(b.sub("paddings"), [][]int32{{0, 0}, {beg, end}, {beg, end}, {0, 0}}))
	return Conv(b, x, out, k, append(opts, Stride(stride), Padding("VALID"))...)
}

// Logits is the classifier: a 1×1 conv with biases (starting at zero), no
// norm, no activation, squeezed to [n, classes] (slim's
// conv2d(num_classes, [1,1]) + squeeze).
func Logits(b *B, x tf.Output, classes int) tf.Output {
	y := Conv(b, x, classes, 1, Linear, NoNorm, Padding("VALID"), func(o *convOpts) { o.zeroBias = true })
	if y.Shape().NumDimensions() == 4 {
		y = op.Squeeze(b.sub("SpatialSqueeze"), y, op.SqueezeAxis([]int64{1, 2}))
	}
	return y
}

// batchNorm is slim.batch_norm(fused=True) on NHWC x under b (".../BatchNorm").
// In training mode with trainable beta/gamma it normalises with the batch's
// statistics and appends moving-average updates (slim's UPDATE_OPS,
// moving -= (moving − batch)·(1 − decay)); otherwise it uses the moving
// statistics. data_format, epsilon and is_training are always set
// explicitly (tensorflow#51201).
func batchNorm(b *B, x tf.Output, p BatchNorm) tf.Output {
	b.st.batchNorm = true
	c := int64(Channels(x))
	// Variables in slim's creation order: gamma, beta, moving statistics.
	var beta, gamma tf.Output
	trainable := false
	if p.Scale {
		v := b.Var("gamma", []int64{c}, Gamma, Ones)
		gamma, trainable = v.Read, v.Trainable
	} else {
		ones := make([]float32, c)
		for i := range ones {
			ones[i] = 1
		}
		gamma = op.Const(b.sub("gamma_one"), ones)
	}
	if p.NoCenter {
		beta = op.Const(b.sub("beta_zero"), make([]float32, c))
	} else {
		v := b.Var("beta", []int64{c}, Beta, Zeros)
		beta, trainable = v.Read, trainable || v.Trainable
	}
	mean := b.Var("moving_mean", []int64{c}, MovingMean, Zeros)
	variance := b.Var("moving_variance", []int64{c}, MovingVar, Ones)
	training := b.mode.Training && !b.mode.FrozenBatchNorm && trainable
	attrs := []op.FusedBatchNormV3Attr{
		op.FusedBatchNormV3Epsilon(float32(p.Epsilon)), op.FusedBatchNormV3DataFormat("NHWC"),
		op.FusedBatchNormV3IsTraining(training), op.FusedBatchNormV3ExponentialAvgFactor(1),
	}
	if !training {
		y, _, _, _, _, _ := op.FusedBatchNormV3(b.sub("FusedBatchNormV3"), x, gamma, beta, mean.Read, variance.Read, attrs...)
		return y
	}
	// As tf.compat.v1.nn.fused_batch_norm in training: empty mean and
	// variance inputs; outputs 1 and 2 are the batch mean and the
	// Bessel-corrected batch variance.
	empty := op.Const(b.sub("empty"), []float32{})
	y, bm, bv, _, _, _ := op.FusedBatchNormV3(b.sub("FusedBatchNormV3"), x, gamma, beta, empty, empty, attrs...)
	for _, u := range []struct {
		v     *Var
		batch tf.Output
	}{{mean, bm}, {variance, bv}} {
		if b.st.vars.Feed() {
			b.st.stats = append(b.st.stats, Stat{Var: u.v.Name, Batch: u.batch, Decay: p.Decay})
			continue
		}
		us := b.sub("update_" + u.v.Name[len(b.prefix)+1:])
		b.st.pending = append(b.st.pending, pendingUpdate{s: us, v: u.v, delta: movingDelta(us, u.v, u.batch, p.Decay)})
	}
	return y
}

// MaxPool is slim.max_pool2d (k×k window, stride, padding "VALID" or "SAME").
func MaxPool(b *B, x tf.Output, k, stride int, padding string) tf.Output {
	return op.MaxPool(b.sub("MaxPool"), x, []int64{1, int64(k), int64(k), 1}, []int64{1, int64(stride), int64(stride), 1}, padding)
}

// AvgPool is slim.avg_pool2d.
func AvgPool(b *B, x tf.Output, k, stride int, padding string) tf.Output {
	return op.AvgPool(b.sub("AvgPool"), x, []int64{1, int64(k), int64(k), 1}, []int64{1, int64(stride), int64(stride), 1}, padding)
}

// GlobalAvgPool is reduce_mean over height and width with keep_dims: [n,1,1,c].
func GlobalAvgPool(b *B, x tf.Output) tf.Output {
	return op.Mean(b.sub("pool"), x, op.Const(b.sub("pool_axes"), []int32{1, 2}), op.MeanKeepDims(true))
}

// Subsample is resnet_utils.subsample: x itself at factor 1, else a 1×1
// max pool with that stride.
func Subsample(b *B, x tf.Output, factor int) tf.Output {
	if factor == 1 {
		return x
	}
	return MaxPool(b, x, 1, factor, "SAME")
}

// Dropout is tf.nn.dropout (v1, as slim's nets) in training mode when
// Mode.DropoutKeep < 1: x/keep · floor(keep + U[0,1)); x itself otherwise.
func Dropout(b *B, x tf.Output) tf.Output {
	b.st.dropout = true
	keep := b.mode.DropoutKeep
	if !b.mode.Training || keep >= 1 {
		return x
	}
	ds := b.sub("dropout")
	seed, seed2 := b.st.vars.nextSeed()
	u := op.RandomUniform(ds, op.Shape(ds, x), tf.Float, op.RandomUniformSeed(seed), op.RandomUniformSeed2(seed2))
	// The mask does not depend on x, so its gradient is x's only.
	mask := op.Floor(ds, op.Add(ds, u, op.Const(ds.SubScope("keep"), float32(keep))))
	return op.Mul(ds.SubScope("masked"), op.Mul(ds.SubScope("scaled"), x, op.Const(ds.SubScope("inv_keep"), float32(1/keep))), mask)
}

// Concat concatenates xs along axis (3: channels of NHWC).
func Concat(b *B, axis int, xs ...tf.Output) tf.Output {
	return op.ConcatV2(b.sub("concat"), xs, op.Const(b.sub("concat_axis"), int32(axis)))
}

// Add is the residual sum x + y.
func Add(b *B, x, y tf.Output) tf.Output { return op.AddV2(b.sub("add"), x, y) }

// Relu is max(x, 0).
func Relu(b *B, x tf.Output) tf.Output { return op.Relu(b.sub("Relu"), x) }

// Relu6 is min(max(x, 0), 6) (MobileNets).
func Relu6(b *B, x tf.Output) tf.Output { return op.Relu6(b.sub("Relu6"), x) }
