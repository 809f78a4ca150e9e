package pipeline

import (
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
)

// Reduced-scale JPEG decoding.
//
// A JPEG stores 8×8 blocks of DCT coefficients; libjpeg-turbo can run a
// smaller inverse DCT (4×4, 2×2, 1×1) on each block and so decode the image at
// 1/2, 1/4 or 1/8 of its size for a fraction of the work (scale_num = 1,
// scale_denom = 2, 4, 8; TensorFlow's decode_jpeg exposes the same as its
// ratio attribute). When the region the network input is taken from is at
// least twice as large as the output on both axes, the loader decodes at the
// largest such scale that still leaves the region at least as large as the
// output, then resizes (antialiased bilinear, as always) from there: the
// final resize is always a downscale by less than 2×, preceded by the DCT
// reduction. A Food-101 512×512 photo's training crop (492 px → 224) decodes
// at 1/2; a 12 MP phone photo at 1/8.
// LoaderOptions.FullScaleJPEG turns the scaling off (for measuring it: on
// real photos it changed validation top-1 by less than 1 point and the top-1
// class of 1–2.5 % of the images, bench/NOTES.md).
//
// The loader also decodes only the rows and columns that the resize reads
// (libjpeg-turbo's jpeg_skip_scanlines and jpeg_crop_scanline), plus a
// 2-pixel margin so that chroma upsampling at the cut sees the same
// neighbours as in a full decode: the pixels used are bit-identical to a full
// decode at that scale (TestJPEGCropEqualsFull).
//
// Only the libjpeg build (cgo, -tags libjpeg) does either: Go's image/jpeg has
// no scaled IDCT and no way to skip work, so the pure-Go build decodes every
// pixel at full scale (see EvalJPEGScale).

// jpegScales are the DCT scale denominators libjpeg-turbo computes with its
// SIMD reduced IDCTs and TF's decode_jpeg accepts as ratio, largest first.
var jpegScales = [...]int{8, 4, 2}

// jpegScale returns the largest denominator d such that g's source region is
// at least d times the resized size on both axes (1 when none is).
func jpegScale(g geometry) int {
	for _, d := range jpegScales {
		if g.rw >= d*g.ow && g.rh >= d*g.oh {
			return d
		}
	}
	return 1
}

// EvalJPEGScale returns the DCT scale denominator (1, 2, 4 or 8) at which
// this build's pipeline decodes a w×h JPEG for evaluation, prediction and
// serving (Eval mode), so that a graph computing the same preprocessing
// (the SavedModel's bytes signature) can call decode_jpeg with ratio =
// EvalJPEGScale(w, h) and then apply the usual Eval preprocessing to the
// decoded image, whose size is ⌈w/d⌉×⌈h/d⌉.
//
// The rule: the largest d in {8, 4, 2} such that the Eval source region (the
// central min(w,h) square for StyleCrop, the whole image for StyleVGG) is at
// least d times the size it is resized to on both axes, else 1. It is
// symmetric in w and h, so it does not matter whether they are taken before
// or after the EXIF rotation. It is always 1 in builds whose JPEG decoder
// cannot scale (the pure-Go build: JPEGDecoder() == "image/jpeg").
func (p Preprocess) EvalJPEGScale(w, h int) int {
	if decodeJPEGFast == nil || w <= 0 || h <= 0 || p.Validate() != nil {
		return 1
	}
	return jpegScale(p.geometry(w, h, Eval, nil))
}

// ceilDiv is libjpeg's jdiv_round_up: the size of an axis of n pixels
// decoded at scale 1/d.
func ceilDiv(n, d int) int { return (n + d - 1) / d }

// scaleGeometry maps a training geometry computed for a w×h image to the
// same crop in the image decoded at 1/d (sw×sh): the region's corner and
// sides are divided by d and rounded, a whole-image region stays whole, and
// the output size, window and flip are unchanged.
func scaleGeometry(g geometry, d, w, h, sw, sh int) geometry {
	if g.x0 == 0 && g.y0 == 0 && g.rw == w && g.rh == h {
		g.rw, g.rh = sw, sh
		return g
	}
	rw := min(max(1, (g.rw+d/2)/d), sw)
	rh := min(max(1, (g.rh+d/2)/d), sh)
	g.x0 = min((g.x0+d/2)/d, sw-rw)
	g.y0 = min((g.y0+d/2)/d, sh-rh)
	g.rw, g.rh = rw, rh
	return g
}

// cropMargin widens the decoded rectangle around the pixels the resize
// reads, so that the fancy chroma upsampling at the edge of a cropped decode
// (which lacks the neighbour beyond the cut) never touches a pixel used.
const cropMargin = 2

// DecodeApply decodes an encoded image and preprocesses it into dst exactly
// as the Loader does: like Decode followed by Apply, except that with the
// libjpeg build a JPEG is decoded at reduced scale when its source region is
// at least twice the output size (see EvalJPEGScale), and only the part the
// resize reads is decoded. rng is used as by Apply.
func (p Preprocess) DecodeApply(data []byte, mode Mode, rng *rand.Rand, dst []float32) error {
	var r resampler
	return p.decodeApply(data, nil, mode, rng, dst, &r, true)
}

// decodeApply is decode + apply for the loader: with libjpeg it decodes
// JPEGs at reduced scale and only the part the resize reads (see the top of
// this file); otherwise, and for other formats, it is decodeInto + apply. The
// random draws are the same in both cases (geometry is drawn once, for the
// full-size upright image), so a run's crops and flips do not depend on the
// build. With scale false a JPEG is always decoded at full scale
// (LoaderOptions.FullScaleJPEG); the cropped decode is kept, since it is
// bit-identical to a full decode inside the crop.
func (p Preprocess) decodeApply(data []byte, buf *RGB, mode Mode, rng *rand.Rand, dst []float32, r *resampler, scale bool) error {
	cfg, format, err := decodeHeader(data)
	if err != nil {
		return err
	}
	if format != "jpeg" || decodeJPEGFast == nil {
		img, err := decodeInto(data, buf)
		if err != nil {
			return err
		}
		return p.apply(img, mode, rng, dst, r)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if len(dst) < p.Size() {
		return fmt.Errorf("preprocess: dst has %d values, need %d", len(dst), p.Size())
	}
	if mode == Train && rng == nil {
		return errors.New("preprocess: Train mode needs a random source")
	}
	o := jpegOrientation(data)
	w, h := cfg.Width, cfg.Height
	if o >= 5 {
		w, h = h, w
	}
	full := p.geometry(w, h, mode, rng)
	g, d := full, 1
	if scale {
		d = jpegScale(full)
	}
	if d > 1 {
		sw, sh := ceilDiv(w, d), ceilDiv(h, d)
		if mode == Eval || p.evalLike() {
			// The Eval crop of the decoded image, as Eval computes it, so
			// AugmentNone trains on exactly Eval's floats.
			g = p.cropGeometry(sw, sh, Eval, nil)
			g.flip, g.jitter = full.flip, full.jitter
		} else {
			g = scaleGeometry(full, d, w, h, sw, sh)
		}
	}
	need := r.prepare(g)
	var crop image.Rectangle
	if o == 1 {
		crop = need.Inset(-cropMargin)
	}
	img, off, ok, err := decodeJPEGFast(data, buf, d, crop)
	if !ok { // a colour space libjpeg is not used for: image/jpeg, full scale
		img, err := decodeInto(data, buf)
		if err != nil {
			return err
		}
		if img.W != w || img.H != h {
			return fmt.Errorf("decode jpeg: decoded %dx%d, header says %dx%d", img.W, img.H, w, h)
		}
		r.prepare(full)
		r.exec(img, image.Point{}, full, p.Norm, dst[:p.Size()])
		return nil
	}
	if err != nil {
		return err
	}
	if o != 1 {
		img = orient(img, o)
	}
	if have := image.Rect(off.X, off.Y, off.X+img.W, off.Y+img.H); !need.In(have) {
		return fmt.Errorf("decode jpeg: decoded %v at scale 1/%d, the resize needs %v", have, d, need)
	}
	r.exec(img, off, g, p.Norm, dst[:p.Size()])
	return nil
}
