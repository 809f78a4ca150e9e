package nets

import (
	"fmt"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/tlearn/tlearn/imagenorm"
	"github.com/tlearn/tlearn/tfgraph/slim"
)

// vgg is TF-Slim's nets/vgg.py (vgg_a/16/19) as one function over the
// number of 3×3 convs in each of the five blocks: widths per block, fc6/fc7
// width. fc6 is a VALID conv whose kernel is the map left after the five
// 2×2 pools (7×7 for 224 px; slim's VGGs fix 7, so they take 224..255 px),
// fc7 and fc8 are 1×1; dropout follows fc6 and fc7.
func vgg(convs, widths [5]int, fcWidth int) func(b *slim.B, images tf.Output, classes int) Out {
	return func(b *slim.B, x tf.Output, classes int) Out {
		for blk := range 5 {
			bs := b.Scope("conv%d", blk+1)
			for c := range convs[blk] {
				var opts []slim.Opt
				if blk == 0 && c == 0 { // the pixels, no batch norm after
					opts = append(opts, slim.InputStd(imagenorm.MeanSubtract.Std()))
				}
				x = slim.Conv(bs.Scope("conv%d_%d", blk+1, c+1), x, widths[blk], 3, opts...)
			}
			x = slim.MaxPool(b.Scope("pool%d", blk+1), x, 2, 2, "VALID")
		}
		side, _ := slim.Side(x)
		x = slim.Conv(b.Scope("fc6"), x, fcWidth, side, slim.Padding("VALID"))
		x = slim.Dropout(b.Scope("dropout6"), x)
		x = slim.Conv(b.Scope("fc7"), x, fcWidth, 1)
		x = slim.Dropout(b.Scope("dropout7"), x)
		return Out{Logits: slim.Logits(b.Scope("fc8"), x, classes)}
	}
}

func vggNet(name string, convs, widths [5]int, fcWidth, minIn, maxIn int, rule string, init slim.Init) Net {
	build := vgg(convs, widths, fcWidth)
	return Net{
		Name: name, Scope: name, DefaultInput: 224, MinInput: minIn, MaxInput: maxIn, InputRule: rule,
		Norm: imagenorm.MeanSubtract, HeadScopes: []string{"fc8"}, CheckpointClasses: 1000,
		Build: func(b *slim.B, images tf.Output, classes int) Out {
			return build(b.Scope("%s", name).With(slim.Args{Init: init}), images, classes)
		},
	}
}

func init() {
	wide := [5]int{64, 128, 256, 512, 512}
	rule := fmt.Sprintf("fc6 is a 7×7 VALID conv over the map left after five 2×2 pools (floor(S/32) must be 7)")
	// Weights not from a checkpoint start He-uniform (variance_scaling(2,
	// fan_in)): a plain 16-conv ReLU net barely trains from slim's Glorot
	// init, whose variance halves at every ReLU layer (He et al. 2015).
	// Measured on the demo (vgg_mini, MNIST digits 0-4, 8 epochs, lr 1e-3):
	// 47% validation top-1 from Glorot, 82% from He. The new head (fc8)
	// keeps slim's Glorot (slim.Vars.HeadScopes).
	register(vggNet("vgg_16", [5]int{2, 2, 3, 3, 3}, wide, 4096, 224, 255, rule, slim.HeUniform))
	register(vggNet("vgg_19", [5]int{2, 2, 4, 4, 4}, wide, 4096, 224, 255, rule, slim.HeUniform))
	// vgg_mini: vgg_19's layout with narrow layers; fc6 covers whatever map
	// the five pools leave (32 px → 1×1, 64 px → 2×2).
	register(vggNet("vgg_mini", [5]int{2, 2, 4, 4, 4}, [5]int{8, 16, 32, 64, 64}, 128, 32, 0, "", slim.HeUniform))
}
