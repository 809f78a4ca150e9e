package nets

import (
	tf "github.com/wamuir/graft/tensorflow"

	"github.com/tlearn/tlearn/imagenorm"
	"github.com/tlearn/tlearn/tfgraph/slim"
)

// inceptionV3Args is inception_v3_arg_scope: every conv batch-normalised
// without gamma (slim's batch_norm default scale=False; decay 0.9997,
// epsilon 1e-3) and ReLU. Weights not from a checkpoint start He-uniform
// (slim uses variance_scaling_initializer(), He's truncated normal).
var inceptionV3Args = slim.Args{Norm: &slim.BatchNorm{Decay: 0.9997, Epsilon: 1e-3}, Init: slim.HeUniform}

// inceptionV3 is TF-Slim's nets/inception_v3.py inception_v3 (depth
// multiplier 1, aux logits, spatial squeeze): the VALID stem
// Conv2d_1a_3x3 … MaxPool_5a_3x3, the SAME-padded blocks Mixed_5b … Mixed_7c,
// the auxiliary head AuxLogits on Mixed_6e, and Logits (average pool over
// the 8×8 map, or the whole map when smaller, Dropout_1b, 1×1 conv
// Conv2d_1c_1x1).
func inceptionV3(b *slim.B, x tf.Output, classes int) Out {
	valid := b.With(slim.Args{Padding: "VALID"})
	x = slim.Conv(valid.Scope("Conv2d_1a_3x3"), x, 32, 3, slim.Stride(2))
	x = slim.Conv(valid.Scope("Conv2d_2a_3x3"), x, 32, 3)
	x = slim.Conv(valid.Scope("Conv2d_2b_3x3"), x, 64, 3, slim.Padding("SAME"))
	x = slim.MaxPool(valid.Scope("MaxPool_3a_3x3"), x, 3, 2, "VALID")
	x = slim.Conv(valid.Scope("Conv2d_3b_1x1"), x, 80, 1)
	x = slim.Conv(valid.Scope("Conv2d_4a_3x3"), x, 192, 3)
	x = slim.MaxPool(valid.Scope("MaxPool_5a_3x3"), x, 3, 2, "VALID")

	b = b.With(slim.Args{Padding: "SAME"})
	x = mixed5(b.Scope("Mixed_5b"), x, "Conv2d_0a_1x1", "Conv2d_0b_5x5", 32)
	x = mixed5(b.Scope("Mixed_5c"), x, "Conv2d_0b_1x1", "Conv_1_0c_5x5", 64) // slim's names
	x = mixed5(b.Scope("Mixed_5d"), x, "Conv2d_0a_1x1", "Conv2d_0b_5x5", 64)
	x = mixed6a(b.Scope("Mixed_6a"), x)
	x = mixed6(b.Scope("Mixed_6b"), x, 128)
	x = mixed6(b.Scope("Mixed_6c"), x, 160)
	x = mixed6(b.Scope("Mixed_6d"), x, 160)
	x = mixed6(b.Scope("Mixed_6e"), x, 192)
	mixed6e := x
	x = mixed7a(b.Scope("Mixed_7a"), x)
	x = mixed7(b.Scope("Mixed_7b"), x, "Conv2d_0b_3x1")
	x = mixed7(b.Scope("Mixed_7c"), x, "Conv2d_0c_3x1")
	// After the base, as slim creates it (the variables' order).
	aux := inceptionAux(b.Scope("AuxLogits"), mixed6e, classes)

	lb := b.Scope("Logits")
	side, _ := slim.Side(x)
	x = slim.AvgPool(lb.Scope("AvgPool_1a"), x, min(side, 8), 1, "VALID")
	x = slim.Dropout(lb.Scope("Dropout_1b"), x)
	return Out{Logits: slim.Logits(lb.Scope("Conv2d_1c_1x1"), x, classes), AuxLogits: aux}
}

// mixed5 is Mixed_5b/5c/5d (35×35 at 299 px): 1×1 64; 1×1 48 → 5×5 64;
// 1×1 64 → 3×3 96 → 3×3 96; 3×3 average pool → 1×1 pool; concatenated.
// Mixed_5c names its second branch's convs Conv2d_0b_1x1 and Conv_1_0c_5x5.
func mixed5(b *slim.B, x tf.Output, b1a, b1b string, pool int) tf.Output {
	b0 := slim.Conv(b.Scope("Branch_0").Scope("Conv2d_0a_1x1"), x, 64, 1)
	s1 := b.Scope("Branch_1")
	b1 := slim.Conv(s1.Scope("%s", b1a), x, 48, 1)
	b1 = slim.Conv(s1.Scope("%s", b1b), b1, 64, 5)
	s2 := b.Scope("Branch_2")
	b2 := slim.Conv(s2.Scope("Conv2d_0a_1x1"), x, 64, 1)
	b2 = slim.Conv(s2.Scope("Conv2d_0b_3x3"), b2, 96, 3)
	b2 = slim.Conv(s2.Scope("Conv2d_0c_3x3"), b2, 96, 3)
	s3 := b.Scope("Branch_3")
	b3 := slim.AvgPool(s3.Scope("AvgPool_0a_3x3"), x, 3, 1, "SAME")
	b3 = slim.Conv(s3.Scope("Conv2d_0b_1x1"), b3, pool, 1)
	return slim.Concat(b, 3, b0, b1, b2, b3)
}

// mixed6a is the 35→17 reduction: 3×3/2 384; 1×1 64 → 3×3 96 → 3×3/2 96;
// 3×3/2 max pool (the strided ones VALID).
func mixed6a(b *slim.B, x tf.Output) tf.Output {
	b0 := slim.Conv(b.Scope("Branch_0").Scope("Conv2d_1a_1x1"), x, 384, 3, slim.Stride(2), slim.Padding("VALID"))
	s1 := b.Scope("Branch_1")
	b1 := slim.Conv(s1.Scope("Conv2d_0a_1x1"), x, 64, 1)
	b1 = slim.Conv(s1.Scope("Conv2d_0b_3x3"), b1, 96, 3)
	b1 = slim.Conv(s1.Scope("Conv2d_1a_1x1"), b1, 96, 3, slim.Stride(2), slim.Padding("VALID"))
	b2 := slim.MaxPool(b.Scope("Branch_2").Scope("MaxPool_1a_3x3"), x, 3, 2, "VALID")
	return slim.Concat(b, 3, b0, b1, b2)
}

// mixed6 is Mixed_6b..6e (17×17, 768 channels) with inner width n: 1×1
// 192; 1×1 n → 1×7 n → 7×1 192; 1×1 n → 7×1 n → 1×7 n → 7×1 n → 1×7 192;
// 3×3 average pool → 1×1 192.
func mixed6(b *slim.B, x tf.Output, n int) tf.Output {
	b0 := slim.Conv(b.Scope("Branch_0").Scope("Conv2d_0a_1x1"), x, 192, 1)
	s1 := b.Scope("Branch_1")
	b1 := slim.Conv(s1.Scope("Conv2d_0a_1x1"), x, n, 1)
	b1 = slim.Conv(s1.Scope("Conv2d_0b_1x7"), b1, n, 0, slim.Kernel(1, 7))
	b1 = slim.Conv(s1.Scope("Conv2d_0c_7x1"), b1, 192, 0, slim.Kernel(7, 1))
	s2 := b.Scope("Branch_2")
	b2 := slim.Conv(s2.Scope("Conv2d_0a_1x1"), x, n, 1)
	b2 = slim.Conv(s2.Scope("Conv2d_0b_7x1"), b2, n, 0, slim.Kernel(7, 1))
	b2 = slim.Conv(s2.Scope("Conv2d_0c_1x7"), b2, n, 0, slim.Kernel(1, 7))
	b2 = slim.Conv(s2.Scope("Conv2d_0d_7x1"), b2, n, 0, slim.Kernel(7, 1))
	b2 = slim.Conv(s2.Scope("Conv2d_0e_1x7"), b2, 192, 0, slim.Kernel(1, 7))
	s3 := b.Scope("Branch_3")
	b3 := slim.AvgPool(s3.Scope("AvgPool_0a_3x3"), x, 3, 1, "SAME")
	b3 = slim.Conv(s3.Scope("Conv2d_0b_1x1"), b3, 192, 1)
	return slim.Concat(b, 3, b0, b1, b2, b3)
}

// mixed7a is the 17→8 reduction: 1×1 192 → 3×3/2 320; 1×1 192 → 1×7 192 →
// 7×1 192 → 3×3/2 192; 3×3/2 max pool.
func mixed7a(b *slim.B, x tf.Output) tf.Output {
	s0 := b.Scope("Branch_0")
	b0 := slim.Conv(s0.Scope("Conv2d_0a_1x1"), x, 192, 1)
	b0 = slim.Conv(s0.Scope("Conv2d_1a_3x3"), b0, 320, 3, slim.Stride(2), slim.Padding("VALID"))
	s1 := b.Scope("Branch_1")
	b1 := slim.Conv(s1.Scope("Conv2d_0a_1x1"), x, 192, 1)
	b1 = slim.Conv(s1.Scope("Conv2d_0b_1x7"), b1, 192, 0, slim.Kernel(1, 7))
	b1 = slim.Conv(s1.Scope("Conv2d_0c_7x1"), b1, 192, 0, slim.Kernel(7, 1))
	b1 = slim.Conv(s1.Scope("Conv2d_1a_3x3"), b1, 192, 3, slim.Stride(2), slim.Padding("VALID"))
	b2 := slim.MaxPool(b.Scope("Branch_2").Scope("MaxPool_1a_3x3"), x, 3, 2, "VALID")
	return slim.Concat(b, 3, b0, b1, b2)
}

// mixed7 is Mixed_7b/7c (8×8, 2048 channels): 1×1 320; 1×1 384 → [1×3
// 384, 3×1 384]; 1×1 448 → 3×3 384 → [1×3 384, 3×1 384]; 3×3 average pool
// → 1×1 192. The second branch's 3×1 conv is Conv2d_0b_3x1 in Mixed_7b and
// Conv2d_0c_3x1 in Mixed_7c (slim's names).
func mixed7(b *slim.B, x tf.Output, b1_3x1 string) tf.Output {
	b0 := slim.Conv(b.Scope("Branch_0").Scope("Conv2d_0a_1x1"), x, 320, 1)
	s1 := b.Scope("Branch_1")
	b1 := slim.Conv(s1.Scope("Conv2d_0a_1x1"), x, 384, 1)
	b1 = slim.Concat(s1, 3,
		slim.Conv(s1.Scope("Conv2d_0b_1x3"), b1, 384, 0, slim.Kernel(1, 3)),
		slim.Conv(s1.Scope("%s", b1_3x1), b1, 384, 0, slim.Kernel(3, 1)))
	s2 := b.Scope("Branch_2")
	b2 := slim.Conv(s2.Scope("Conv2d_0a_1x1"), x, 448, 1)
	b2 = slim.Conv(s2.Scope("Conv2d_0b_3x3"), b2, 384, 3)
	b2 = slim.Concat(s2, 3,
		slim.Conv(s2.Scope("Conv2d_0c_1x3"), b2, 384, 0, slim.Kernel(1, 3)),
		slim.Conv(s2.Scope("Conv2d_0d_3x1"), b2, 384, 0, slim.Kernel(3, 1)))
	s3 := b.Scope("Branch_3")
	b3 := slim.AvgPool(s3.Scope("AvgPool_0a_3x3"), x, 3, 1, "SAME")
	b3 = slim.Conv(s3.Scope("Conv2d_0b_1x1"), b3, 192, 1)
	return slim.Concat(b, 3, b0, b1, b2, b3)
}

// inceptionAux is the auxiliary head on Mixed_6e: 5×5/3 VALID average
// pool, 1×1 conv 128, a VALID conv 768 whose kernel is the remaining map
// (5×5 at 299 px, smaller for small inputs: Conv2d_2a_5x5, …, named after
// it as slim does), and the 1×1 logits Conv2d_2b_1x1.
func inceptionAux(b *slim.B, x tf.Output, classes int) tf.Output {
	x = slim.AvgPool(b.Scope("AvgPool_1a_5x5"), x, 5, 3, "VALID")
	x = slim.Conv(b.Scope("Conv2d_1b_1x1"), x, 128, 1)
	k, _ := slim.Side(x)
	k = min(k, 5)
	x = slim.Conv(b.Scope("Conv2d_2a_%dx%d", k, k), x, 768, k, slim.Padding("VALID"))
	return slim.Logits(b.Scope("Conv2d_2b_1x1"), x, classes)
}

func init() {
	register(Net{
		Name: "inception_v3", Scope: "InceptionV3", DefaultInput: 299, MinInput: inceptionMinInput, MaxInput: inceptionMaxInput,
		InputRule: "the aux head's 5×5 VALID pool needs Mixed_6e's map to be at least 5×5, and the final 8×8 average pool " +
			"and the aux head's ≤5×5 conv must each leave 1×1 (TF-Slim's inception_v3 with aux logits)",
		Norm: imagenorm.PlusMinusOne, HeadScopes: []string{"Logits", "AuxLogits"}, CheckpointClasses: 1001,
		Build: func(b *slim.B, images tf.Output, classes int) Out {
			return inceptionV3(b.Scope("InceptionV3").With(inceptionV3Args), images, classes)
		},
	})
}

// inception_v3's valid input sides (TF-Slim's graph with aux logits): from
// 107 px Mixed_6e's map (5×5) takes the aux head's 5×5 VALID pool; up to 330
// px Mixed_7c's map is at most 8×8 and the aux conv's input at most 5×5, so
// both heads end 1×1.
const inceptionMinInput, inceptionMaxInput = 107, 330
