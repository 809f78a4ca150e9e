package nets

import (
	tf "github.com/wamuir/graft/tensorflow"

	"github.com/tlearn/tlearn/imagenorm"
	"github.com/tlearn/tlearn/tfgraph/slim"
)

// alexnetArgs is alexnet_v2_arg_scope: convs with biases (starting at 0.1)
// and ReLU, no normalisation, SAME padding (max pools VALID). Weights not
// from a checkpoint start Glorot-uniform, slim's xavier default for conv1..5
// (slim starts fc6/fc7 from a truncated normal of stddev 0.005).
var alexnetArgs = slim.Args{Padding: "SAME", BiasInit: slim.PointOne}

// alexnetV2 is TF-Slim's nets/alexnet.py alexnet_v2 (spatial squeeze): conv1
// 11×11/4 VALID 64, 3×3/2 pools, conv2 5×5 192, conv3..5 3×3 384/384/256,
// then the fully connected layers as convs: fc6 5×5 VALID 4096 over the
// 5×5 map left at 224 px, fc7 1×1 4096, fc8 1×1 logits, dropout after fc6
// and fc7.
func alexnetV2(b *slim.B, x tf.Output, classes int) Out {
	x = slim.Conv(b.Scope("conv1"), x, 64, 11, slim.Stride(4), slim.Padding("VALID"), slim.InputStd(imagenorm.MeanSubtract.Std()))
	x = slim.MaxPool(b.Scope("pool1"), x, 3, 2, "VALID")
	x = slim.Conv(b.Scope("conv2"), x, 192, 5)
	x = slim.MaxPool(b.Scope("pool2"), x, 3, 2, "VALID")
	x = slim.Conv(b.Scope("conv3"), x, 384, 3)
	x = slim.Conv(b.Scope("conv4"), x, 384, 3)
	x = slim.Conv(b.Scope("conv5"), x, 256, 3)
	x = slim.MaxPool(b.Scope("pool5"), x, 3, 2, "VALID")
	x = slim.Conv(b.Scope("fc6"), x, 4096, 5, slim.Padding("VALID"))
	x = slim.Dropout(b.Scope("dropout6"), x)
	x = slim.Conv(b.Scope("fc7"), x, 4096, 1)
	x = slim.Dropout(b.Scope("dropout7"), x)
	return Out{Logits: slim.Logits(b.Scope("fc8"), x, classes)}
}

func init() {
	register(Net{
		Name: "alexnet_v2", Scope: "alexnet_v2", DefaultInput: 224, MinInput: 195, MaxInput: 226,
		InputRule: "fc6 is a 5×5 VALID conv over the map left after conv1 (11×11/4 VALID) and three 3×3/2 VALID pools, which must be 5×5",
		Norm:      imagenorm.MeanSubtract, HeadScopes: []string{"fc8"}, CheckpointClasses: 1000,
		Build: func(b *slim.B, images tf.Output, classes int) Out {
			return alexnetV2(b.Scope("alexnet_v2").With(alexnetArgs), images, classes)
		},
	})
}
