// Package imagenorm defines how a network expects its RGB input values: the
// one definition both the Go pipeline (pipeline/, which never imports
// TensorFlow) and the exported graph's in-graph preprocessing (tfgraph/) use,
// so the constants exist once.
package imagenorm

// Norm maps an RGB value v in 0..255 of channel c to (v - Mean[c]) * Scale.
type Norm struct {
	Name  string     // recorded in config.json: "mean_subtract" or "plus_minus_one"
	Mean  [3]float32 // per channel, RGB order
	Scale float32
}

// imageNetStd is the standard deviation of ImageNet's RGB pixels in levels
// of 255, the mean of its channels' (0.229, 0.224, 0.225)·255: the spread
// of natural photos that a first layer's initialisation can assume.
const imageNetStd = 57.6

// Std is the typical standard deviation of normalised natural-photo pixels:
// what the first layer of a net sees (about 58 for MeanSubtract, 0.45 for
// PlusMinusOne).
func (n Norm) Std() float64 { return imageNetStd * float64(n.Scale) }

// MeanSubtract is TF-Slim's vgg_preprocessing (vgg_*, resnet_v1_*,
// alexnet_v2): RGB 0..255 minus the ImageNet channel means, in RGB order.
var MeanSubtract = Norm{Name: "mean_subtract", Mean: [3]float32{123.68, 116.78, 103.94}, Scale: 1}

// PlusMinusOne is TF-Slim's inception_preprocessing (inception_*,
// mobilenet_*, resnet_v2_*): RGB scaled to [-1, 1], (v/255 - 0.5)·2 =
// (v - 127.5)/127.5.
var PlusMinusOne = Norm{Name: "plus_minus_one", Mean: [3]float32{127.5, 127.5, 127.5}, Scale: 1 / 127.5}

// ByName returns the normalisation called name (Norm.Name) and whether it is known.
func ByName(name string) (Norm, bool) {
	for _, n := range []Norm{MeanSubtract, PlusMinusOne} {
		if n.Name == name {
			return n, true
		}
	}
	return Norm{}, false
}
