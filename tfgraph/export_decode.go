package tfgraph

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tlearn/tlearn/pipeline"
)

// The bytes signature's decode: the in-graph twin of pipeline.Decode, so that
// a serving client sending a file's bytes gets the pixels `tlearn predict`
// computes from the same file. TensorFlow's DecodeImage(channels=3) alone
// differs from the pipeline on every image with transparency (it drops alpha
// where the pipeline composites onto white), ignores PNG tRNS colour keys and
// EXIF orientation, and keeps BMP alpha the pipeline ignores. decodeExport
// reproduces pipeline/decode.go's integer arithmetic exactly, choosing one of
// four decoders from the file's header:
//
//   - plain, DecodeImage(channels=3): JPEG (TF's libjpeg-turbo decodes as
//     the libjpeg build of the pipeline, CMYK included), GIF, BMP without
//     alpha, and PNGs without alpha or tRNS (8-bit or less);
//   - 8-bit alpha, DecodeImage(channels=4): PNG RGBA/grey+alpha, grey/RGB
//     with a tRNS colour key, BMP with a V4/V5 header (x/image/bmp's
//     allowAlpha) → (c·a + 255·(255 − a) + 127)/255, the image.NRGBA path;
//   - palette with tRNS, DecodePng(channels=4) → color.NRGBA through
//     rgbOverWhite, (c·257·a·257/65535 + 257·(255 − a)) >> 8;
//   - 16-bit PNG, DecodePng(channels=4, uint16) → (c·a/65535 + 65535 − a) >> 8.
//
// JPEG EXIF orientation (APP1 "Exif", IFD0 tag 0x0112) is parsed with byte
// gathers, like pipeline/exif.go, over the first exportJPEGSegments marker
// segments and exportIFDEntries IFD0 entries, and applied with
// Transpose/ReverseV2. Cost (1024×768, 2 cores): JPEG 5.8 ms vs 4.4 ms for
// DecodeImage alone, opaque PNG 8.2 vs 7.2, RGBA PNG 29 vs 9.
//
// GIFs with a transparent colour are rewritten before decoding (flag
// cleared, that colour-table entry white: TF's DecodeGif gives transparent
// pixels as black, like real black); those it cannot rewrite (local colour
// table) are refused with an InvalidArgument naming the problem. WebP is not
// decodable by TensorFlow 2.18 at all (DecodeImage: "Unknown image file
// format"). See docs/export.md.
const (
	exportJPEGSegments = 8  // marker segments walked before giving up on EXIF
	exportIFDEntries   = 64 // IFD0 entries searched for the orientation tag
	exportPNGChunks    = 32 // PNG chunks walked looking for tRNS before IDAT
	exportGIFBlocks    = 4  // GIF extension blocks walked looking for transparency
	exportGIFSubBlocks = 4  // data sub-blocks per GIF extension walked
)

// ErrGIFTransparencyMsg is the message of the serving graph's refusal of a
// GIF with a transparent colour.
const ErrGIFTransparencyMsg = "tlearn export: the transparent colour of this GIF cannot be composited onto white by the serving graph as tlearn does (its first image has a local colour table): flatten it onto white (or convert it to PNG) before sending it"

// tinyPNG is a 1×1 PNG, decoded by the branches that do not apply to an
// input (the graph has no conditionals: every decoder runs, each on the real
// bytes or on this placeholder).
func tinyPNG() ([]byte, error) {
	im := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	im.Set(0, 0, color.NRGBA{255, 255, 255, 255})
	var p bytes.Buffer
	if err := png.Encode(&p, im); err != nil {
		return nil, fmt.Errorf("encode placeholder PNG: %w", err)
	}
	return p.Bytes(), nil
}

// tinyJPEG is the 1×1 placeholder of the scaled JPEG decoders and of the
// JPEG header read.
func tinyJPEG() ([]byte, error) {
	im := image.NewRGBA(image.Rect(0, 0, 1, 1))
	var b bytes.Buffer
	if err := jpeg.Encode(&b, im, nil); err != nil {
		return nil, fmt.Errorf("encode placeholder JPEG: %w", err)
	}
	return b.Bytes(), nil
}

// decodeExport adds the decode of one encoded image (string scalar in) to s
// and returns its uint8 [h,w,3] pixels: pipeline.Decode's when eval is nil;
// otherwise what Preprocess.DecodeApply(Eval) preprocesses with eval's
// settings — a JPEG decoded at the reduced DCT scale 1/d, d =
// eval.EvalJPEGScale(w, h) of the libjpeg build (DecodeJpeg ratio = d), so
// that the Eval preprocessing of the result equals DecodeApply's.
func decodeExport(s *op.Scope, in tf.Output, eval *pipeline.Preprocess) (tf.Output, error) {
	tinyPNG, err := tinyPNG()
	if err != nil {
		return tf.Output{}, err
	}
	tinyJPEG, err := tinyJPEG()
	if err != nil {
		return tf.Output{}, err
	}
	s = s.SubScope("decode")
	d := &dec{s: s}
	c := d.c

	// The file's first MiB as bytes, with zero padding so that header
	// reads never go past the end; every read is clamped to the vector.
	head := op.StringJoin(s.SubScope("padded"), []tf.Output{
		op.Substr(s.SubScope("first_mib"), in, c(int32(0)), c(int32(1<<20))),
		c(string(make([]byte, 32)))})
	d.b = op.DecodeRaw(s.SubScope("bytes"), head, tf.Uint8)
	d.last = op.Sub(s.SubScope("last"), op.Size(s.SubScope("nbytes"), d.b, op.SizeOutType(tf.Int64)), c(int64(1)))
	d.n = op.Cast(s.SubScope("len"), op.StringLength(s.SubScope("o"), in), tf.Int64)
	magic := func(name, m string) tf.Output {
		return op.Equal(s.SubScope(name), op.Substr(s.SubScope(name+"_head"), head, c(int32(0)), c(int32(len(m)))), c(m))
	}
	isPNG, isJPEG := magic("is_png", "\x89PNG\r\n\x1a\n"), magic("is_jpeg", "\xff\xd8")
	isBMP, isGIF := magic("is_bmp", "BM"), magic("is_gif", "GIF8")

	// Five decoders, one per way of getting the pipeline's pixels; each runs
	// on the real bytes when it applies and on a 1×1 PNG otherwise (the
	// graph has no conditionals), and merge keeps the one that applies.
	// Opaque images take the plain branch, with no arithmetic.
	k := func(v int64) tf.Output { return c(v) }
	depth, ctype := d.at(s.SubScope("depth"), k(24)), d.at(s.SubScope("ctype"), k(25))
	trns := d.pngHasTRNS(s.SubScope("trns"))
	eqc := func(v int64) tf.Output { return op.Equal(s.SubScope("o"), ctype, k(v)) }
	or := func(x, y tf.Output) tf.Output { return op.LogicalOr(s.SubScope("o"), x, y) }
	and := func(x, y tf.Output) tf.Output { return op.LogicalAnd(s.SubScope("o"), x, y) }
	png16 := and(isPNG, op.Equal(s.SubScope("o"), depth, k(16)))
	pngPal := and(and(isPNG, op.LogicalNot(s.SubScope("o"), png16)), and(eqc(3), trns))
	pngAlpha := and(and(isPNG, op.LogicalNot(s.SubScope("o"), png16)), or(or(eqc(4), eqc(6)), and(or(eqc(0), eqc(2)), trns)))
	// x/image/bmp honours BMP alpha only with a header larger than
	// BITMAPINFOHEADER (40 bytes); TF's DecodeBmp always keeps it.
	bmpAlpha := and(isBMP, op.Greater(s.SubScope("o"), d.u32(s.SubScope("bmp"), k(14), c(true)), k(40)))
	nrgba := or(pngAlpha, bmpAlpha)
	gifTrns, gifFix, gifTidx, gifGCE := d.gifTransparency(s.SubScope("gif_header"))
	gifTrns = and(isGIF, gifTrns)
	const (
		brPlain = iota
		brNRGBA
		brPalette
		brPNG16
		brGIF
		brJPEG2 // JPEG at DCT scale 1/2, 1/4, 1/8 (brJPEG2+0, +1, +2)
	)
	which := d.sel(s, gifTrns, c(int32(brGIF)), d.sel(s, png16, c(int32(brPNG16)), d.sel(s, pngPal, c(int32(brPalette)), d.sel(s, nrgba, c(int32(brNRGBA)), c(int32(brPlain))))))
	jpegRatios := []int64{2, 4, 8}
	if eval != nil {
		js := s.SubScope("jpeg_scale")
		r := d.jpegScale(js, d.sel(js, isJPEG, in, c(string(tinyJPEG))), isJPEG, *eval)
		for i, v := range jpegRatios {
			which = d.sel(js, op.Equal(js.SubScope("o"), r, k(v)), c(int32(brJPEG2+i)), which)
		}
	}
	inputOr := func(sc *op.Scope, br int32, placeholder []byte, data ...tf.Output) tf.Output {
		x := in
		if len(data) > 0 {
			x = data[0]
		}
		return d.sel(sc, op.Equal(sc.SubScope("o"), which, c(br)), x, c(string(placeholder)))
	}
	input := func(sc *op.Scope, br int32, data ...tf.Output) tf.Output {
		return inputOr(sc, br, tinyPNG, data...)
	}

	// Plain: JPEG, GIF, BMP without alpha, opaque 8-bit PNG.
	ps := s.SubScope("plain")
	plain := op.DecodeImage(ps.SubScope("o"), input(ps, brPlain), op.DecodeImageChannels(3), op.DecodeImageExpandAnimations(false))

	// GIF with a transparent colour: TF's DecodeGif gives transparent pixels
	// as black (as real black), so the bytes are rewritten first: the
	// transparency flag cleared and the transparent entry of the global
	// colour table made white — exactly the pipeline's composite on white.
	gs := s.SubScope("gif")
	// The check runs before the decode (a control dependency of its input),
	// so that a refused GIF fails with the message, never with the decoder's
	// error on the rewritten bytes.
	gifOK := op.LogicalNot(gs.SubScope("o"), and(gifTrns, op.LogicalNot(gs.SubScope("o"), gifFix)))
	check := op.Assert(gs.SubScope("gif_transparency"), gifOK, []tf.Output{c(ErrGIFTransparencyMsg)})
	gifIn := op.Identity(gs.WithControlDependencies(check).SubScope("checked"),
		input(gs, brGIF, d.gifFlatten(gs.SubScope("flatten"), in, gifTidx, gifGCE)))
	gif := op.DecodeImage(gs.SubScope("o"), gifIn, op.DecodeImageChannels(3), op.DecodeImageExpandAnimations(false))

	// 8-bit alpha (PNG RGBA, grey+alpha, tRNS colour key; BMP V4/V5): the
	// image.NRGBA composite, int32.
	ns := s.SubScope("nrgba")
	x := op.Cast(ns.SubScope("o"), op.DecodeImage(ns.SubScope("o"), input(ns, brNRGBA), op.DecodeImageChannels(4), op.DecodeImageExpandAnimations(false)), tf.Int32)
	rgb, a := d.split(ns, x)
	nrgbaPix := op.Cast(ns.SubScope("o"), nrgbaOverWhite(ns, rgb, a), tf.Uint8)

	// Palette with tRNS: color.NRGBA through rgbOverWhite,
	// (c·257·a·257/65535 + 257·(255−a)) >> 8 = (q + q·514/65535 + 257·(255−a)) >> 8
	// with q = c·a, which fits int32.
	pls := s.SubScope("palette")
	x = op.Cast(pls.SubScope("o"), op.DecodePng(pls.SubScope("o"), input(pls, brPalette), op.DecodePngChannels(4)), tf.Int32)
	rgb, a = d.split(pls, x)
	k32 := func(v int32) tf.Output { return c(v) }
	q := op.Mul(pls.SubScope("o"), rgb, a)
	v := op.AddV2(pls.SubScope("o"), q, op.FloorDiv(pls.SubScope("o"), op.Mul(pls.SubScope("o"), q, k32(514)), k32(65535)))
	v = op.AddV2(pls.SubScope("o"), v, op.Mul(pls.SubScope("o"), k32(257), op.Sub(pls.SubScope("o"), k32(255), a)))
	palPix := op.Cast(pls.SubScope("o"), op.RightShift(pls.SubScope("o"), v, k32(8)), tf.Uint8)

	// 16-bit PNG: rgbOverWhite of image.NRGBA64, (c·a/65535 + 65535 − a) >> 8,
	// int64 (c·a overflows int32).
	hs := s.SubScope("png16")
	x = op.Cast(hs.SubScope("o"), op.DecodePng(hs.SubScope("o"), input(hs, brPNG16), op.DecodePngChannels(4), op.DecodePngDtype(tf.Uint16)), tf.Int64)
	rgb, a = d.split(hs, x)
	v = op.FloorDiv(hs.SubScope("o"), op.Mul(hs.SubScope("o"), rgb, a), k(65535))
	v = op.Sub(hs.SubScope("o"), op.AddV2(hs.SubScope("o"), v, k(65535)), a)
	pix16 := op.Cast(hs.SubScope("o"), op.RightShift(hs.SubScope("o"), v, k(8)), tf.Uint8)

	branches := []tf.Output{plain, nrgbaPix, palPix, pix16, gif}
	if eval != nil {
		// Reduced-scale JPEG: libjpeg-turbo's scaled IDCT, as the libjpeg
		// build of the pipeline (pipeline/jpegscale.go); the ratio is an
		// attribute, hence one decoder per ratio.
		for i, v := range jpegRatios {
			js := s.SubScope(fmt.Sprintf("jpeg_1_%d", v))
			branches = append(branches, op.DecodeJpeg(js.SubScope("o"), inputOr(js, int32(brJPEG2+i), tinyJPEG),
				op.DecodeJpegChannels(3), op.DecodeJpegRatio(v)))
		}
	}
	img := d.merge(s.SubScope("merge"), branches, which)

	// EXIF orientation, JPEG only (1 for everything else).
	es := s.SubScope("exif")
	o := d.sel(es, isJPEG, d.jpegOrientation(es), k(1))
	return orientImage(es, img, o, c), nil
}

// jpegScale is pipeline.Preprocess.EvalJPEGScale of the libjpeg build for
// the JPEG jpg (the real bytes when isJPEG, else a placeholder): an int64
// scalar in {1, 2, 4, 8}, 1 when not isJPEG. The rule is the largest d in
// {8, 4, 2} such that the Eval source region is at least d times the size it
// is resized to on both axes: the central min(w,h) square resized to S×S for
// StyleCrop, the whole image resized to max(rint(w·k), S)×max(rint(h·k), S),
// k = side/min(w,h) in float32, for StyleVGG. CMYK and YCCK JPEGs (4
// components) stay at scale 1: the pipeline decodes them with image/jpeg.
func (d *dec) jpegScale(s *op.Scope, jpg, isJPEG tf.Output, p pipeline.Preprocess) tf.Output {
	o := func() *op.Scope { return s.SubScope("o") }
	k := func(v int64) tf.Output { return d.c(v) }
	shape := op.Cast(o(), op.ExtractJpegShape(o(), jpg), tf.Int64) // [h, w, components]
	at := func(i int64) tf.Output { return op.GatherV2(o(), shape, k(i), d.c(int32(0))) }
	h, w, comps := at(0), at(1), at(2)
	S := int64(p.InputSize)
	var ow, oh, rw, rh tf.Output
	short := op.Minimum(o(), w, h)
	if p.Style == pipeline.StyleVGG {
		side, _ := pipeline.VGGResizeRange(p.InputSize)
		kf := op.Div(o(), d.c(float32(side)), op.Cast(o(), short, tf.Float))
		dim := func(x tf.Output) tf.Output {
			return op.Maximum(o(), op.Cast(o(), op.Round(o(), op.Mul(o(), op.Cast(o(), x, tf.Float), kf)), tf.Int64), k(S))
		}
		ow, oh, rw, rh = dim(w), dim(h), w, h
	} else {
		ow, oh, rw, rh = k(S), k(S), short, short
	}
	r := k(1)
	for _, v := range []int64{2, 4, 8} { // the last that fits wins: the largest
		fits := op.LogicalAnd(o(), op.GreaterEqual(o(), rw, op.Mul(o(), k(v), ow)), op.GreaterEqual(o(), rh, op.Mul(o(), k(v), oh)))
		r = d.sel(s, fits, k(v), r)
	}
	scalable := op.LogicalAnd(o(), isJPEG, op.NotEqual(o(), comps, k(4)))
	return d.sel(s, scalable, r, k(1))
}

// dec holds the byte vector of one encoded image and small graph helpers.
type dec struct {
	s    *op.Scope
	b    tf.Output // uint8 [len+32]: the bytes, zero-padded (read as int64 by at)
	last tf.Output // int64: index of b's last element
	n    tf.Output // int64: the real length
	k    int
}

// c adds a Const with a unique name.
func (d *dec) c(v any) tf.Output {
	d.k++
	return op.Const(d.s.SubScope(fmt.Sprintf("c%d", d.k)), v)
}

// sel is SelectV2 (broadcasting).
func (d *dec) sel(s *op.Scope, cond, x, y tf.Output) tf.Output {
	return s.SubScope("sel").AddOperation(tf.OpSpec{Type: "SelectV2", Input: []tf.Input{cond, x, y}}).Output(0)
}

// at reads byte(s) at int64 index i (scalar or vector), clamped to b.
func (d *dec) at(s *op.Scope, i tf.Output) tf.Output {
	i = op.Minimum(s.SubScope("o"), op.Maximum(s.SubScope("o"), i, d.c(int64(0))), d.last)
	return op.Cast(s.SubScope("o"), op.GatherV2(s.SubScope("o"), d.b, i, d.c(int32(0))), tf.Int64)
}

// u16 and u32 read unsigned integers at i, little-endian when le.
func (d *dec) u16(s *op.Scope, i, le tf.Output) tf.Output {
	b0, b1 := d.at(s, i), d.at(s, op.AddV2(s.SubScope("o"), i, d.c(int64(1))))
	lev := op.BitwiseOr(s.SubScope("o"), b0, op.LeftShift(s.SubScope("o"), b1, d.c(int64(8))))
	bev := op.BitwiseOr(s.SubScope("o"), b1, op.LeftShift(s.SubScope("o"), b0, d.c(int64(8))))
	return d.sel(s, le, lev, bev)
}

func (d *dec) u32(s *op.Scope, i, le tf.Output) tf.Output {
	lo, hi := d.u16(s, i, le), d.u16(s, op.AddV2(s.SubScope("o"), i, d.c(int64(2))), le)
	lev := op.BitwiseOr(s.SubScope("o"), lo, op.LeftShift(s.SubScope("o"), hi, d.c(int64(16))))
	bev := op.BitwiseOr(s.SubScope("o"), hi, op.LeftShift(s.SubScope("o"), lo, d.c(int64(16))))
	return d.sel(s, le, lev, bev)
}

// split returns the RGB channels and the alpha channel of x [h,w,4].
func (d *dec) split(s *op.Scope, x tf.Output) (rgb, a tf.Output) {
	rgb = op.Slice(s.SubScope("o"), x, d.c([]int32{0, 0, 0}), d.c([]int32{-1, -1, 3}))
	a = op.Slice(s.SubScope("o"), x, d.c([]int32{0, 0, 3}), d.c([]int32{-1, -1, 1}))
	return rgb, a
}

// nrgbaOverWhite is pipeline/decode.go's image.NRGBA composite on white,
// (c·a + 255·(255 − a) + 127) / 255, on int32 8-bit values.
func nrgbaOverWhite(s *op.Scope, c, a tf.Output) tf.Output {
	k := func(v int32) tf.Output { return op.Const(s.SubScope("k"), v) }
	bg := op.Mul(s.SubScope("o"), k(255), op.Sub(s.SubScope("o"), k(255), a))
	return op.FloorDiv(s.SubScope("o"), op.AddV2(s.SubScope("o"), op.AddV2(s.SubScope("o"), op.Mul(s.SubScope("o"), c, a), bg), k(127)), k(255))
}

// merge returns branches[which] (uint8 [h,w,3] each, shapes differing):
// flattened, concatenated, sliced and reshaped.
func (d *dec) merge(s *op.Scope, branches []tf.Output, which tf.Output) tf.Output {
	var flats, sizes, shapes []tf.Output
	for _, b := range branches {
		flats = append(flats, op.Reshape(s.SubScope("o"), b, d.c([]int32{-1})))
		sizes = append(sizes, op.Size(s.SubScope("o"), b, op.SizeOutType(tf.Int32)))
		shapes = append(shapes, op.Shape(s.SubScope("o"), b, op.ShapeOutType(tf.Int32)))
	}
	sz := op.Pack(s.SubScope("sizes"), sizes)
	starts := op.Cumsum(s.SubScope("starts"), sz, d.c(int32(0)), op.CumsumExclusive(true))
	pick := func(x tf.Output) tf.Output { return op.GatherV2(s.SubScope("o"), x, which, d.c(int32(0))) }
	flat := op.ConcatV2(s.SubScope("o"), flats, d.c(int32(0)))
	one := op.Slice(s.SubScope("o"), flat, op.ExpandDims(s.SubScope("o"), pick(starts), d.c(int32(0))),
		op.ExpandDims(s.SubScope("o"), pick(sz), d.c(int32(0))))
	return op.Reshape(s.SubScope("o"), one, pick(op.Pack(s.SubScope("shapes"), shapes)))
}

// jpegOrientation is pipeline/exif.go's jpegOrientation over the first
// exportJPEGSegments marker segments: an int64 scalar in 1..8.
func (d *dec) jpegOrientation(s *op.Scope) tf.Output {
	k := func(v int64) tf.Output { return d.c(v) }
	eq := func(x tf.Output, v int64) tf.Output { return op.Equal(s.SubScope("o"), x, k(v)) }
	and := func(x, y tf.Output) tf.Output { return op.LogicalAnd(s.SubScope("o"), x, y) }
	or := func(x, y tf.Output) tf.Output { return op.LogicalOr(s.SubScope("o"), x, y) }
	not := func(x tf.Output) tf.Output { return op.LogicalNot(s.SubScope("o"), x) }
	i := k(2)
	done := d.c(false)
	o := k(1)
	for range exportJPEGSegments {
		live := and(not(done), op.LessEqual(s.SubScope("o"), op.AddV2(s.SubScope("o"), i, k(4)), d.n))
		bad := not(eq(d.at(s, i), 0xFF))
		marker := d.at(s, op.AddV2(s.SubScope("o"), i, k(1)))
		fill := eq(marker, 0xFF)
		noLen := or(or(eq(marker, 0xD8), eq(marker, 0x01)), and(op.GreaterEqual(s.SubScope("o"), marker, k(0xD0)), op.LessEqual(s.SubScope("o"), marker, k(0xD7))))
		end := or(eq(marker, 0xDA), eq(marker, 0xD9))
		n := d.u16(s, op.AddV2(s.SubScope("o"), i, k(2)), d.c(false))
		badLen := or(op.Less(s.SubScope("o"), n, k(2)), op.Greater(s.SubScope("o"), op.AddV2(s.SubScope("o"), op.AddV2(s.SubScope("o"), i, k(2)), n), d.n))
		seg := op.AddV2(s.SubScope("o"), i, k(4))
		exifHdr := d.at(s, op.AddV2(s.SubScope("o"), seg, d.c([]int64{0, 1, 2, 3, 4, 5})))
		isExif := and(and(eq(marker, 0xE1), op.GreaterEqual(s.SubScope("o"), op.Sub(s.SubScope("o"), n, k(2)), k(6))),
			op.All(s.SubScope("o"), op.Equal(s.SubScope("o"), exifHdr, d.c([]int64{'E', 'x', 'i', 'f', 0, 0})), d.c(int32(0))))
		// A segment: stop on a bad byte, the scan, or a bad length.
		segment := and(live, not(or(or(bad, fill), or(noLen, end))))
		stop := and(live, or(or(bad, end), and(segment, badLen)))
		t := d.tiffOrientation(s, op.AddV2(s.SubScope("o"), seg, k(6)), op.Sub(s.SubScope("o"), op.Sub(s.SubScope("o"), n, k(2)), k(6)))
		found := and(and(segment, not(badLen)), and(isExif, op.NotEqual(s.SubScope("o"), t, k(0))))
		o = d.sel(s, found, t, o)
		step := d.sel(s, fill, k(1), d.sel(s, noLen, k(2), op.AddV2(s.SubScope("o"), k(2), n)))
		i = d.sel(s, live, op.AddV2(s.SubScope("o"), i, step), i)
		done = or(done, or(or(stop, found), not(live)))
	}
	return o
}

// tiffOrientation is pipeline/exif.go's tiffOrientation of the TIFF structure
// of tlen bytes at offset t, over the first exportIFDEntries entries: 0 when
// absent or invalid.
func (d *dec) tiffOrientation(s *op.Scope, t, tlen tf.Output) tf.Output {
	k := func(v int64) tf.Output { return d.c(v) }
	and := func(x, y tf.Output) tf.Output { return op.LogicalAnd(s.SubScope("o"), x, y) }
	bo := d.u16(s, t, d.c(false))
	le := op.Equal(s.SubScope("o"), bo, k(0x4949)) // "II"
	valid := and(op.GreaterEqual(s.SubScope("o"), tlen, k(8)), op.LogicalOr(s.SubScope("o"), le, op.Equal(s.SubScope("o"), bo, k(0x4D4D))))
	valid = and(valid, op.Equal(s.SubScope("o"), d.u16(s, op.AddV2(s.SubScope("o"), t, k(2)), le), k(42)))
	off := d.u32(s, op.AddV2(s.SubScope("o"), t, k(4)), le)
	valid = and(valid, and(op.GreaterEqual(s.SubScope("o"), off, k(8)), op.LessEqual(s.SubScope("o"), op.AddV2(s.SubScope("o"), off, k(2)), tlen)))
	p := op.AddV2(s.SubScope("o"), t, off)
	count := d.u16(s, p, le)
	ks := op.Range(s.SubScope("o"), k(0), k(exportIFDEntries), k(1))
	e := op.AddV2(s.SubScope("o"), op.AddV2(s.SubScope("o"), p, k(2)), op.Mul(s.SubScope("o"), ks, k(12))) // absolute entry offsets
	inb := op.LessEqual(s.SubScope("o"), op.AddV2(s.SubScope("o"), e, k(12)), op.AddV2(s.SubScope("o"), t, tlen))
	match := and(and(op.Less(s.SubScope("o"), ks, count), inb), op.Equal(s.SubScope("o"), d.u16(s, e, le), k(0x0112)))
	first := op.Min(s.SubScope("o"), d.sel(s, match, ks, k(exportIFDEntries)), d.c(int32(0)))
	has := and(valid, op.Less(s.SubScope("o"), first, k(exportIFDEntries)))
	ef := op.AddV2(s.SubScope("o"), op.AddV2(s.SubScope("o"), p, k(2)), op.Mul(s.SubScope("o"), op.Minimum(s.SubScope("o"), first, k(exportIFDEntries-1)), k(12)))
	typ := d.u16(s, op.AddV2(s.SubScope("o"), ef, k(2)), le)
	v := d.sel(s, op.Equal(s.SubScope("o"), typ, k(3)), d.u16(s, op.AddV2(s.SubScope("o"), ef, k(8)), le),
		d.sel(s, op.Equal(s.SubScope("o"), typ, k(4)), d.u32(s, op.AddV2(s.SubScope("o"), ef, k(8)), le), k(0)))
	ok := and(has, and(op.GreaterEqual(s.SubScope("o"), v, k(1)), op.LessEqual(s.SubScope("o"), v, k(8))))
	return d.sel(s, ok, v, k(0))
}

// pngHasTRNS reports whether a tRNS chunk comes before IDAT among the first
// exportPNGChunks chunks.
func (d *dec) pngHasTRNS(s *op.Scope) tf.Output {
	k := func(v int64) tf.Output { return d.c(v) }
	p := k(8)
	done, has := d.c(false), d.c(false)
	for range exportPNGChunks {
		typ := d.u32(s, op.AddV2(s.SubScope("o"), p, k(4)), d.c(false))
		idat := op.Equal(s.SubScope("o"), typ, k(0x49444154))
		trns := op.Equal(s.SubScope("o"), typ, k(0x74524E53))
		has = op.LogicalOr(s.SubScope("o"), has, op.LogicalAnd(s.SubScope("o"), op.LogicalNot(s.SubScope("o"), done), trns))
		done = op.LogicalOr(s.SubScope("o"), done, idat)
		p = op.AddV2(s.SubScope("o"), p, op.AddV2(s.SubScope("o"), d.u32(s, p, d.c(false)), k(12)))
	}
	return has
}

// gifTransparency reads the GIF's first Graphic Control Extension (at
// gcePos) among the first exportGIFBlocks extension blocks: transparent says
// it sets the transparency flag for palette index tidx; recoverable that the
// first image uses the global colour table, which holds tidx.
func (d *dec) gifTransparency(s *op.Scope) (transparent, recoverable, tidx, gcePos tf.Output) {
	k := func(v int64) tf.Output { return d.c(v) }
	o := func() *op.Scope { return s.SubScope("o") }
	and := func(x, y tf.Output) tf.Output { return op.LogicalAnd(o(), x, y) }
	eq := func(x tf.Output, v int64) tf.Output { return op.Equal(o(), x, k(v)) }
	packed := d.at(s, k(10))
	hasGCT := op.Greater(o(), op.BitwiseAnd(o(), packed, k(0x80)), k(0))
	entries := op.LeftShift(o(), k(1), op.AddV2(o(), op.BitwiseAnd(o(), packed, k(7)), k(1)))
	p := op.AddV2(o(), k(13), d.sel(s, hasGCT, op.Mul(o(), entries, k(3)), k(0)))
	done := d.c(false)
	transparent = d.c(false)
	seen := d.c(false) // a GCE was met
	tidx = k(-1)
	gcePos = k(0)
	for range exportGIFBlocks {
		ext := and(op.LogicalNot(o(), done), eq(d.at(s, p), 0x21))
		gce := and(and(ext, op.LogicalNot(o(), seen)), eq(d.at(s, op.AddV2(o(), p, k(1))), 0xF9))
		flag := eq(op.BitwiseAnd(o(), d.at(s, op.AddV2(o(), p, k(3))), k(1)), 1)
		transparent = op.LogicalOr(o(), transparent, and(gce, flag))
		tidx = d.sel(s, and(gce, flag), d.at(s, op.AddV2(o(), p, k(6))), tidx)
		gcePos = d.sel(s, gce, p, gcePos)
		seen = op.LogicalOr(o(), seen, gce)
		// Skip the extension: label, then sub-blocks until a zero size.
		q := op.AddV2(o(), p, k(2))
		for range exportGIFSubBlocks {
			n := d.at(s, q)
			q = d.sel(s, eq(n, 0), q, op.AddV2(o(), op.AddV2(o(), q, n), k(1)))
		}
		p = d.sel(s, ext, op.AddV2(o(), q, k(1)), p)
		done = op.LogicalOr(o(), done, op.LogicalNot(o(), ext))
	}
	// p is now the image descriptor (0x2C) if the walk reached it; its
	// packed byte (offset 9) flags a local colour table.
	descriptor := and(done, eq(d.at(s, p), 0x2C))
	noLCT := eq(op.BitwiseAnd(o(), d.at(s, op.AddV2(o(), p, k(9))), k(0x80)), 0)
	recoverable = and(and(descriptor, noLCT), and(hasGCT, op.Less(o(), tidx, entries)))
	return transparent, recoverable, tidx, gcePos
}

// gifFlatten returns in with the transparent colour index tidx of the
// global colour table set to white and the transparency flag of the GCE at
// gcePos cleared. Positions are clamped to the input, so the result is
// garbage but valid for inputs it does not apply to (never decoded then).
func (d *dec) gifFlatten(s *op.Scope, in, tidx, gcePos tf.Output) tf.Output {
	k := func(v int64) tf.Output { return d.c(v) }
	o := func() *op.Scope { return s.SubScope("o") }
	clamp := func(v tf.Output) tf.Output { return op.Minimum(o(), op.Maximum(o(), v, k(0)), d.n) }
	pal := clamp(op.AddV2(o(), k(13), op.Mul(o(), tidx, k(3))))
	flag := clamp(op.AddV2(o(), gcePos, k(3)))
	afterPal := op.Minimum(o(), op.AddV2(o(), pal, k(3)), flag)
	var table []byte
	for v := range 256 {
		table = append(table, byte(v))
	}
	packed := op.BitwiseAnd(o(), d.at(s, flag), k(0xFE))
	sub := func(pos, end tf.Output) tf.Output {
		return op.Substr(o(), in, pos, op.Maximum(o(), op.Sub(o(), end, pos), k(0)))
	}
	return op.StringJoin(o(), []tf.Output{
		sub(k(0), pal), d.c("\xff\xff\xff"), sub(afterPal, flag),
		op.Substr(o(), d.c(string(table)), packed, k(1)),
		sub(clamp(op.AddV2(o(), flag, k(1))), d.n)})
}

// orientImage applies EXIF orientation o (1..8) to img [h,w,3], as
// pipeline/exif.go's orient: transpose for 5..8, then flip rows for
// 3,4,7,8 and columns for 2,3,6,7. Orientation 1 costs nothing (identity
// Transpose and a ReverseV2 over no axes forward their input).
func orientImage(s *op.Scope, img, o tf.Output, c func(any) tf.Output) tf.Output {
	in := func(set ...int64) tf.Output {
		return op.Any(s.SubScope("o"), op.Equal(s.SubScope("o"), o, c(set)), c(int32(0)))
	}
	perm := s.SubScope("sel").AddOperation(tf.OpSpec{Type: "SelectV2", Input: []tf.Input{
		op.GreaterEqual(s.SubScope("o"), o, c(int64(5))), c([]int32{1, 0, 2}), c([]int32{0, 1, 2})}}).Output(0)
	x := op.Transpose(s.SubScope("o"), img, perm)
	flips := op.Pack(s.SubScope("flips"), []tf.Output{in(3, 4, 7, 8), in(2, 3, 6, 7)})
	axes := op.Reshape(s.SubScope("o"), op.Where(s.SubScope("o"), flips), c([]int32{-1}))
	return op.ReverseV2(s.SubScope("o"), x, axes)
}
