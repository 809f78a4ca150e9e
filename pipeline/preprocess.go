package pipeline

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/tlearn/tlearn/imagenorm"
)

// Style selects the geometric preprocessing.
type Style string

const (
	// StyleCrop is tlearn's preprocessing (the classic Food-101 recipe):
	// training takes a random square crop of side round(min(h,w)·(1 − 2·Margin))
	// (Margin is a fraction, so the crop is the same share of any image) and
	// flips it horizontally with probability 0.5; evaluation takes the
	// central square of side min(h,w). The square is resized to InputSize.
	StyleCrop Style = "crop"
	// StyleVGG is TF-Slim's vgg_preprocessing: training resizes the shorter
	// side to a random length in 256..512 (aspect kept), takes a random
	// InputSize square and flips it; evaluation resizes the shorter side to
	// 256 and takes the central InputSize square. Those sizes are Slim's for
	// InputSize 224 and scale with InputSize (see VGGResizeRange), so the
	// window covers the same share of the image at any input size. Unlike Slim it uses the same
	// antialiased bilinear resize as StyleCrop (Slim used resize_bilinear
	// without antialiasing) so that every path shares one interpolation.
	StyleVGG Style = "vgg"
)

// VGGMeans are the per-channel means subtracted from RGB values in 0..255
// (TF-Slim vgg_preprocessing _R_MEAN, _G_MEAN, _B_MEAN; RGB order): those of
// imagenorm.MeanSubtract, the one definition the exported graph uses too.
var VGGMeans = imagenorm.MeanSubtract.Mean

// Slim's vgg_preprocessing resize range (_RESIZE_SIDE_MIN/_MAX) for its
// 224-px input.
const (
	vggResizeMin = 256
	vggResizeMax = 512
	vggInputSize = 224
)

// VGGResizeRange is StyleVGG's range for the shorter side before the S×S
// window is cut: Slim's 256..512 at S = 224, scaled by S/224 and rounded (at
// 32 px: 37..73), so a small input sees the image as a 224-px one does
// rather than a 32-px centre of a 256-px resize. Evaluation uses lo.
func VGGResizeRange(S int) (lo, hi int) {
	lo = max((vggResizeMin*S+vggInputSize/2)/vggInputSize, S)
	hi = max((vggResizeMax*S+vggInputSize/2)/vggInputSize, lo)
	return lo, hi
}

// Mode says whether preprocessing augments (Train) or is deterministic (Eval,
// also used for prediction and export).
type Mode int

const (
	// Eval is deterministic: central crop, no flip.
	Eval Mode = iota
	// Train uses random crops and flips drawn from the caller's RNG.
	Train
)

// String returns "eval" or "train".
func (m Mode) String() string {
	switch m {
	case Eval:
		return "eval"
	case Train:
		return "train"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Preprocess is the one preprocessing shared by training, evaluation,
// prediction and export. A zero Style means StyleCrop.
//
// In-graph equivalent (for the SavedModel bytes signature), StyleCrop eval:
//
//	img = tf.io.decode_image(b, channels=3, expand_animations=False)  # uint8
//	h, w = shape(img)[0], shape(img)[1]; s = min(h, w)
//	crop = img[(h-s)//2 : (h-s)//2+s, (w-s)//2 : (w-s)//2+s]
//	x = tf.image.resize(crop[None], [S, S], "bilinear", antialias=True)[0]
//	x = (x - norm.Mean) * norm.Scale  # mean_subtract: x - [123.68, 116.78, 103.94]
//
// StyleVGG eval: side = VGGResizeRange(S)'s lo; scale = side/min(h,w) in float32; nh, nw
// = rint(h·scale), rint(w·scale); tf.image.resize(img, [nh, nw], "bilinear",
// antialias=True), then the central S×S window at ((nh−S)//2, (nw−S)//2),
// normalised the same way.
//
// Known differences from that graph, all in decoding (see Decode): JPEG EXIF
// orientation is applied here but not by decode_jpeg; alpha is composited on
// white here but dropped by decode_png(channels=3) (to match, decode with
// channels=4 and compute rgb·a/255 + 255·(1−a/255)); and the pure-Go JPEG
// decoder differs from decode_jpeg by about 1 level on average (IDCT
// rounding; chroma upsampling and colour conversion are libjpeg's). Built
// with -tags libjpeg, JPEG decoding is bit-exact with decode_jpeg, and the
// Loader (DecodeApply) decodes a JPEG whose Eval region is at least twice the
// resized size at reduced scale: the graph equivalent is then
// decode_jpeg(ratio = EvalJPEGScale(w, h)) followed by the graph above.
type Preprocess struct {
	// InputSize is the side of the square network input, e.g. 224.
	InputSize int
	// Margin is the StyleCrop training margin per side as a fraction of
	// the shorter side, in [0, 0.5): the crop side is
	// round(min(h,w)·(1 − 2·Margin)). DefaultMargin is the classic
	// recipe's 10 px on a 512-px image.
	Margin float64
	// Style is StyleCrop (default) or StyleVGG.
	Style Style
	// Norm maps the resized RGB values in 0..255 to the network's input,
	// (v − Mean)·Scale: the net's (tfgraph.ArchNorm), e.g.
	// imagenorm.MeanSubtract for VGG, imagenorm.PlusMinusOne for MobileNet.
	// It has no default: a zero Norm is refused by Validate, since silently
	// picking one would feed a net pixels it was not trained on.
	Norm imagenorm.Norm
	// Augment is the training augmentation (Train mode only): AugmentCrop
	// ("" too, the Style's own random crop and flip), AugmentNone,
	// AugmentFlip or AugmentInception. See Augment.
	Augment Augment
	// ColorJitter is the strength s of random brightness, contrast and
	// saturation changes in Train mode (factors uniform in [1−s, 1+s], as
	// torchvision's ColorJitter(s, s, s)), in [0, 1]; 0 (the default) draws
	// nothing. It combines with every Augment but AugmentNone.
	ColorJitter float64
}

// DefaultMargin is the classic recipe's training crop margin, 10 px of a
// 512-px image, as a fraction of the shorter side.
const DefaultMargin = 0.02

// DefaultPreprocess returns tlearn's defaults for the default net (vgg_16):
// 224 px, margin DefaultMargin, StyleCrop, imagenorm.MeanSubtract. Other
// nets set Norm to theirs (tfgraph.ArchNorm).
func DefaultPreprocess() Preprocess {
	return Preprocess{InputSize: 224, Margin: DefaultMargin, Style: StyleCrop, Norm: imagenorm.MeanSubtract}
}

// Validate reports whether p is usable: InputSize in 1..4096, Margin in
// [0, 0.5), a known Style, and a Norm with a finite non-zero Scale.
func (p Preprocess) Validate() error {
	if p.InputSize < 1 || p.InputSize > 4096 {
		return fmt.Errorf("preprocess: input size %d out of range 1..4096 (VGG uses 224)", p.InputSize)
	}
	if !(p.Margin >= 0 && p.Margin < 0.5) {
		return fmt.Errorf("preprocess: crop margin %g must be a fraction of the image in [0, 0.5) (0: none; the default is %g)", p.Margin, DefaultMargin)
	}
	switch p.Style {
	case "", StyleCrop, StyleVGG:
	default:
		return fmt.Errorf("preprocess: unknown style %q (use %q or %q)", p.Style, StyleCrop, StyleVGG)
	}
	if err := p.validateAugment(); err != nil {
		return err
	}
	if s := float64(p.Norm.Scale); s == 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		return fmt.Errorf("preprocess: no input normalisation set (scale %g): give the net's, e.g. imagenorm.%s or imagenorm.%s",
			s, imagenorm.MeanSubtract.Name, imagenorm.PlusMinusOne.Name)
	}
	return nil
}

// Size is the number of float32 values Apply writes: InputSize²·3.
func (p Preprocess) Size() int { return p.InputSize * p.InputSize * 3 }

// Apply crops, flips (Train only), resizes and normalises img, writing
// InputSize·InputSize·3 float32 values ((RGB 0..255 − Norm.Mean)·Norm.Scale, HWC) into
// dst. rng is used only in Train mode, where it must not be nil; its draws are,
// in order: with AugmentCrop crop x, crop y (StyleCrop) or resize side,
// window y, window x (StyleVGG), then the flip; with AugmentInception the
// rectangle's (see inceptionCrop), then the flip; with AugmentFlip the flip
// only, with AugmentNone nothing; then, with ColorJitter, the brightness,
// contrast and saturation factors. Images smaller than the crop are resized
// up.
func (p Preprocess) Apply(img *RGB, mode Mode, rng *rand.Rand, dst []float32) error {
	var r resampler
	return p.apply(img, mode, rng, dst, &r)
}

func (p Preprocess) apply(img *RGB, mode Mode, rng *rand.Rand, dst []float32, r *resampler) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if img == nil || img.W <= 0 || img.H <= 0 || len(img.Pix) < 3*img.W*img.H {
		return errors.New("preprocess: empty or inconsistent image")
	}
	if len(dst) < p.Size() {
		return fmt.Errorf("preprocess: dst has %d values, need %d", len(dst), p.Size())
	}
	if mode == Train && rng == nil {
		return errors.New("preprocess: Train mode needs a random source")
	}
	g := p.geometry(img.W, img.H, mode, rng)
	r.run(img, g, p.Norm, dst[:p.Size()])
	return nil
}

// geometry decides the crop, scale, flip and colour jitter for a w×h image.
func (p Preprocess) geometry(w, h int, mode Mode, rng *rand.Rand) geometry {
	if mode != Train {
		return p.cropGeometry(w, h, Eval, nil)
	}
	var g geometry
	switch p.augment() {
	case AugmentNone:
		return p.cropGeometry(w, h, Eval, nil)
	case AugmentFlip:
		g = p.cropGeometry(w, h, Eval, nil)
		g.flip = rng.IntN(2) == 1
	case AugmentInception:
		S := p.InputSize
		x0, y0, cw, ch := inceptionCrop(w, h, rng)
		g = geometry{x0: x0, y0: y0, rw: cw, rh: ch, ow: S, oh: S, size: S}
		g.flip = rng.IntN(2) == 1
	default:
		g = p.cropGeometry(w, h, Train, rng)
	}
	if p.ColorJitter > 0 {
		g.jitter = drawJitter(p.ColorJitter, rng)
	}
	return g
}

// cropGeometry is the Style's own geometry: its random crop and flip in
// Train mode (AugmentCrop), its central crop in Eval mode.
func (p Preprocess) cropGeometry(w, h int, mode Mode, rng *rand.Rand) geometry {
	S := p.InputSize
	short := min(w, h)
	if p.Style == StyleVGG {
		side, hi := VGGResizeRange(S)
		if mode == Train {
			side += rng.IntN(hi - side + 1)
		}
		// Slim _smallest_size_at_least: float32 scale, rint.
		scale := float32(side) / float32(short)
		nh := int(math.RoundToEven(float64(float32(h) * scale)))
		nw := int(math.RoundToEven(float64(float32(w) * scale)))
		nh, nw = max(nh, S), max(nw, S)
		g := geometry{x0: 0, y0: 0, rw: w, rh: h, ow: nw, oh: nh, size: S}
		if mode == Train {
			g.wy = rng.IntN(nh - S + 1)
			g.wx = rng.IntN(nw - S + 1)
			g.flip = rng.IntN(2) == 1
		} else {
			g.wy, g.wx = (nh-S)/2, (nw-S)/2
		}
		return g
	}
	s := short
	if mode == Train {
		s = TrainCropSide(w, h, p.Margin)
	}
	g := geometry{rw: s, rh: s, ow: S, oh: S, size: S}
	if mode == Train {
		g.x0 = rng.IntN(w - s + 1)
		g.y0 = rng.IntN(h - s + 1)
		g.flip = rng.IntN(2) == 1
	} else {
		// Offsets on both axes from their own dimension (the classic recipe
		// computed the width offset from the height).
		g.x0, g.y0 = (w-s)/2, (h-s)/2
	}
	return g
}

// TrainCropSide is the side of StyleCrop's random training square for a w×h
// image: round(min(w,h)·(1 − 2·margin)), at least 1.
func TrainCropSide(w, h int, margin float64) int {
	short := min(w, h)
	return min(max(int(math.Round(float64(short)*(1-2*margin))), 1), short)
}
