package pipeline

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Augment selects what training (Train mode) does to an image on top of its
// Style; evaluation never augments.
type Augment string

const (
	// AugmentCrop is the Style's own training augmentation, tlearn's
	// default: StyleCrop's random square with Margin plus a random flip,
	// StyleVGG's random resize, random window and flip.
	AugmentCrop Augment = "crop"
	// AugmentNone trains on exactly what evaluation sees (the Style's
	// central crop, no flip): the same floats as Eval mode, for exact
	// comparisons and tests.
	AugmentNone Augment = "none"
	// AugmentFlip is the Eval crop flipped horizontally with probability 0.5.
	AugmentFlip Augment = "flip"
	// AugmentInception is TF-Slim inception_preprocessing's
	// distorted_bounding_box_crop as torchvision's RandomResizedCrop has it:
	// a rectangle of a random share of the image's area (uniform in
	// InceptionAreaMin..Max) and a random aspect ratio (log-uniform in
	// InceptionAspectMin..Max), tried up to InceptionAttempts times until it fits,
	// else the whole image cut to the aspect range (torchvision's
	// fallback); resized to InputSize² (not keeping its aspect) and
	// flipped with probability 0.5. StyleCrop only.
	AugmentInception Augment = "inception"
)

// AugmentNames lists the accepted Augment values, for flags and messages.
var AugmentNames = []string{string(AugmentNone), string(AugmentFlip), string(AugmentCrop), string(AugmentInception)}

// AugmentInception's ranges: torchvision RandomResizedCrop's defaults
// (scale=(0.08, 1), ratio=(3/4, 4/3)), the Inception paper's 8%..100%.
// TF-Slim's inception_preprocessing draws area_range=(0.05, 1) with the
// same aspect range and 100 attempts; the torchvision numbers are the ones
// today's recipes quote.
const (
	InceptionAreaMin, InceptionAreaMax     = 0.08, 1.0
	InceptionAspectMin, InceptionAspectMax = 3. / 4, 4. / 3
)

// InceptionAttempts is how many rectangles AugmentInception draws before it
// falls back to the whole image (torchvision: 10).
const InceptionAttempts = 10

// MaxColorJitter bounds Preprocess.ColorJitter: strength 1 already allows a
// black image (brightness factor 0).
const MaxColorJitter = 1

// augment returns p's Augment with "" read as AugmentCrop.
func (p Preprocess) augment() Augment {
	if p.Augment == "" {
		return AugmentCrop
	}
	return p.Augment
}

// validateAugment checks Augment and ColorJitter (part of Validate).
func (p Preprocess) validateAugment() error {
	a := p.augment()
	switch a {
	case AugmentCrop, AugmentNone, AugmentFlip:
	case AugmentInception:
		if p.Style == StyleVGG {
			return fmt.Errorf("preprocess: augment %q is a crop of its own; it does not combine with style %q (use style %q, or augment %q for vgg's random resize)", a, p.Style, StyleCrop, AugmentCrop)
		}
	default:
		return fmt.Errorf("preprocess: unknown augment %q (use none, flip, crop or inception)", p.Augment)
	}
	if !(p.ColorJitter >= 0 && p.ColorJitter <= MaxColorJitter) {
		return fmt.Errorf("preprocess: color jitter %g must be in [0, %d] (0: none; 0.4 is torchvision's usual strength)", p.ColorJitter, MaxColorJitter)
	}
	if p.ColorJitter > 0 && a == AugmentNone {
		return fmt.Errorf("preprocess: color jitter %g with augment none: none trains on exactly what evaluation sees; use augment flip, crop or inception", p.ColorJitter)
	}
	return nil
}

// evalLike reports whether training takes the Eval crop (AugmentNone,
// AugmentFlip): the geometry is then computed as Eval's, on the image as
// decoded, so AugmentNone's floats equal Eval's exactly.
func (p Preprocess) evalLike() bool {
	a := p.augment()
	return a == AugmentNone || a == AugmentFlip
}

// inceptionCrop draws AugmentInception's rectangle in a w×h image:
// torchvision's RandomResizedCrop.get_params step for step (area share
// uniform, log aspect uniform, w = round(√(A·r)), h = round(√(A/r)), accept
// when it fits, offsets uniform), with its fallback. Draws per attempt: area,
// aspect, then y and x when it fits.
func inceptionCrop(w, h int, rng *rand.Rand) (x0, y0, cw, ch int) {
	area := float64(w) * float64(h)
	lr0, lr1 := math.Log(InceptionAspectMin), math.Log(InceptionAspectMax)
	for range InceptionAttempts {
		target := area * (InceptionAreaMin + rng.Float64()*(InceptionAreaMax-InceptionAreaMin))
		ar := math.Exp(lr0 + rng.Float64()*(lr1-lr0))
		cw = int(math.Round(math.Sqrt(target * ar)))
		ch = int(math.Round(math.Sqrt(target / ar)))
		if cw > 0 && cw <= w && ch > 0 && ch <= h {
			y0 = rng.IntN(h - ch + 1)
			x0 = rng.IntN(w - cw + 1)
			return x0, y0, cw, ch
		}
	}
	// Fallback: the whole image, cut to the aspect range, centred.
	in := float64(w) / float64(h)
	switch {
	case in < InceptionAspectMin:
		cw, ch = w, max(1, min(h, int(math.Round(float64(w)/InceptionAspectMin))))
	case in > InceptionAspectMax:
		ch, cw = h, max(1, min(w, int(math.Round(float64(h)*InceptionAspectMax))))
	default:
		cw, ch = w, h
	}
	return (w - cw) / 2, (h - ch) / 2, cw, ch
}

// jitter is one draw of colour jitter: factors for brightness, contrast and
// saturation (1: unchanged), applied in that order.
type jitter struct {
	on                   bool
	bright, contr, satur float32
}

// drawJitter draws the three factors uniformly in [max(0, 1−s), 1+s], as
// torchvision's ColorJitter(s, s, s) does (it also shuffles their order;
// tlearn applies them in a fixed order so that there are fewer draws to pin).
func drawJitter(s float64, rng *rand.Rand) jitter {
	lo, hi := max(0, 1-s), 1+s
	f := func() float32 { return float32(lo + rng.Float64()*(hi-lo)) }
	b := f()
	c := f()
	return jitter{on: true, bright: b, contr: c, satur: f()}
}

// apply jitters out, S·S·3 values normalised with (v − mean)·scale, in the
// 0..255 domain (torchvision's adjust_brightness, adjust_contrast and
// adjust_saturation, each clamped to 0..255): brightness v·b; contrast
// m + c·(v − m) with m the mean grey level of the image; saturation
// g + s·(v − g) with g the pixel's grey level (0.299 R + 0.587 G + 0.114 B,
// the ITU-R 601 weights torchvision and tf.image.rgb_to_grayscale use).
func (j jitter) apply(out []float32, mean [3]float32, scale float32) {
	inv := 1 / scale
	clamp := func(v float32) float32 { return min(max(v, 0), 255) }
	var grey float64
	for i := 0; i < len(out); i += 3 {
		var px [3]float32
		for c := range 3 {
			px[c] = clamp((out[i+c]*inv + mean[c]) * j.bright)
			out[i+c] = px[c]
		}
		grey += float64(0.299*px[0] + 0.587*px[1] + 0.114*px[2])
	}
	m := float32(grey / float64(len(out)/3))
	for i := 0; i < len(out); i += 3 {
		var px [3]float32
		for c := range 3 {
			px[c] = clamp(m + j.contr*(out[i+c]-m))
		}
		g := 0.299*px[0] + 0.587*px[1] + 0.114*px[2]
		for c := range 3 {
			out[i+c] = (clamp(g+j.satur*(px[c]-g)) - mean[c]) * scale
		}
	}
}
