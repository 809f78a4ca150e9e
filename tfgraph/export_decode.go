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
)

// The bytes signature's decode: the in-graph twin of pipeline.Decode, so that
// a serving client sending a file's bytes gets the pixels `tlearn predict`
// computes from the same file. TensorFlow's DecodeImage(channels=3) alone
// differs from the pipeline on every image with transparency (it drops alpha
// where the pipeline composites onto white), ignores PNG tRNS colour keys and
// EXIF orientation, and keeps BMP alpha the pipeline ignores. decodeExport
// reproduces pipeline/decode.go's integer arithmetic exactly:
//
//   - PNG: DecodePng(channels=4, uint16) keeps alpha, tRNS and 16 bits, then
//     per IHDR: 16-bit → (c·a/65535 + 65535 − a) >> 8 (image.NRGBA64 via
//     rgbOverWhite); palette → (c·257·a·257/65535 + 257·(255 − a)) >> 8
//     (color.NRGBA via rgbOverWhite); other 8-bit → (c·a + 255·(255 − a) +
//     127)/255 (the image.NRGBA fast path). Opaque pixels come out unchanged.
//   - JPEG, GIF, BMP: DecodeImage(channels=0, uint8) (TF's libjpeg-turbo
//     decodes as the libjpeg build of the pipeline does, CMYK included); BMP
//     alpha only with a V4/V5 header (x/image/bmp's allowAlpha), composited as
//     above.
//   - JPEG EXIF orientation (APP1 "Exif", IFD0 tag 0x0112) is parsed with
//     byte gathers, like pipeline/exif.go, over the first exportJPEGSegments
//     marker segments and exportIFDEntries IFD0 entries, and applied with
//     Transpose/ReverseV2.
//
// What the graph cannot do, it refuses with an InvalidArgument naming the
// image kind: GIFs with a transparent colour (TF's DecodeGif gives those
// pixels as black, indistinguishable from real black, where the pipeline
// gives white). WebP is not decodable by TensorFlow 2.18 at all (DecodeImage:
// "Unknown image file format"). See docs/export.md.
const (
	exportJPEGSegments = 8  // marker segments walked before giving up on EXIF
	exportIFDEntries   = 64 // IFD0 entries searched for the orientation tag
	exportPNGChunks    = 16 // PNG chunks walked looking for tRNS before IDAT
	exportGIFBlocks    = 4  // GIF extension blocks walked looking for transparency
	exportGIFSubBlocks = 4  // data sub-blocks per GIF extension walked
)

// ErrGIFTransparencyMsg is the message of the serving graph's refusal of a
// GIF with a transparent colour.
const ErrGIFTransparencyMsg = "tlearn export: a GIF with a transparent colour cannot be decoded by the serving graph as tlearn does (TensorFlow's DecodeGif gives transparent pixels as black, tlearn composites them onto white): flatten it onto white (or convert it to PNG) before sending it"

// tinyImages are 1×1 PNG and JPEG files, decoded by the branch that does not
// apply to an input (the graph has no conditionals: both decoders run, each
// on the real bytes or on a placeholder image).
func tinyImages() (pngB, jpegB []byte, err error) {
	im := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	im.Set(0, 0, color.NRGBA{255, 255, 255, 255})
	var p, j bytes.Buffer
	if err := png.Encode(&p, im); err != nil {
		return nil, nil, fmt.Errorf("encode placeholder PNG: %w", err)
	}
	if err := jpeg.Encode(&j, im, nil); err != nil {
		return nil, nil, fmt.Errorf("encode placeholder JPEG: %w", err)
	}
	return p.Bytes(), j.Bytes(), nil
}

// decodeExport adds the decode of one encoded image (string scalar in) to s
// and returns its uint8 [h,w,3] pixels, as pipeline.Decode.
func decodeExport(s *op.Scope, in tf.Output) (tf.Output, error) {
	tinyPNG, tinyJPEG, err := tinyImages()
	if err != nil {
		return tf.Output{}, err
	}
	s = s.SubScope("decode")
	d := &dec{s: s}
	c := d.c

	// The file's first MiB as int64 bytes, with zero padding so that header
	// reads never go past the end; every read is clamped to the vector.
	head := op.StringJoin(s.SubScope("padded"), []tf.Output{
		op.Substr(s.SubScope("first_mib"), in, c(int32(0)), c(int32(1<<20))),
		c(string(make([]byte, 32)))})
	d.b = op.Cast(s.SubScope("bytes"), op.DecodeRaw(s.SubScope("o"), head, tf.Uint8), tf.Int64)
	d.last = op.Sub(s.SubScope("last"), op.Size(s.SubScope("nbytes"), d.b, op.SizeOutType(tf.Int64)), c(int64(1)))
	d.n = op.Cast(s.SubScope("len"), op.StringLength(s.SubScope("o"), in), tf.Int64)
	magic := func(name, m string) tf.Output {
		return op.Equal(s.SubScope(name), op.Substr(s.SubScope(name+"_head"), head, c(int32(0)), c(int32(len(m)))), c(m))
	}
	isPNG, isJPEG := magic("is_png", "\x89PNG\r\n\x1a\n"), magic("is_jpeg", "\xff\xd8")
	isBMP, isGIF := magic("is_bmp", "BM"), magic("is_gif", "GIF8")

	// PNG branch (int64 arithmetic: 16-bit products overflow int32).
	ps := s.SubScope("png")
	pngIn := d.sel(ps, isPNG, in, c(string(tinyPNG)))
	x := op.Cast(ps.SubScope("o"), op.DecodePng(ps.SubScope("o"), pngIn, op.DecodePngChannels(4), op.DecodePngDtype(tf.Uint16)), tf.Int64)
	rgb, a := d.split(ps, x)
	// TF's DecodePng gives PNGs of 1, 2 or 4 bits without tRNS the alpha
	// 2^depth − 1 instead of opaque (the filler is added before the
	// expansion to 8 bits): force opaque, as pipeline.Decode has it.
	low := op.Less(ps.SubScope("low_depth"), d.at(ps, d.c(int64(24))), d.c(int64(8)))
	fixAlpha := op.LogicalAnd(ps.SubScope("fix_alpha"), low, op.LogicalNot(ps.SubScope("no_trns"), d.pngHasTRNS(ps.SubScope("trns"))))
	a = d.sel(ps, fixAlpha, d.c(int64(65535)), a)
	k := func(v int64) tf.Output { return c(v) }
	add, sub, mul := func(x, y tf.Output) tf.Output { return op.AddV2(ps.SubScope("o"), x, y) }, func(x, y tf.Output) tf.Output { return op.Sub(ps.SubScope("o"), x, y) },
		func(x, y tf.Output) tf.Output { return op.Mul(ps.SubScope("o"), x, y) }
	div := func(x, y tf.Output) tf.Output { return op.FloorDiv(ps.SubScope("o"), x, y) }
	shr8 := func(x tf.Output) tf.Output { return op.RightShift(ps.SubScope("o"), x, k(8)) }
	out16 := shr8(sub(add(div(mul(rgb, a), k(65535)), k(65535)), a))
	c8, a8 := shr8(rgb), shr8(a) // 8-bit PNGs decode to v·257 in uint16
	outPal := shr8(add(div(mul(mul(c8, k(257)), mul(a8, k(257))), k(65535)), mul(k(257), sub(k(255), a8))))
	outNRGBA := nrgbaOverWhite(ps, c8, a8)
	depth16 := op.Equal(ps.SubScope("depth16"), d.at(ps, k(24)), k(16))
	palette := op.Equal(ps.SubScope("palette"), d.at(ps, k(25)), k(3))
	pngPix := op.Cast(ps.SubScope("o"), d.sel(ps, depth16, out16, d.sel(ps, palette, outPal, outNRGBA)), tf.Uint8)

	// JPEG/GIF/BMP branch.
	xs := s.SubScope("other")
	otherIn := d.sel(xs, isPNG, c(string(tinyJPEG)), in)
	y := op.DecodeImage(xs.SubScope("o"), otherIn, op.DecodeImageChannels(0), op.DecodeImageDtype(tf.Uint8), op.DecodeImageExpandAnimations(false))
	y4 := d.toRGBA(xs, op.Cast(xs.SubScope("o"), y, tf.Int64))
	orgb, oa := d.split(xs, y4)
	// x/image/bmp honours alpha only with a header larger than
	// BITMAPINFOHEADER (40 bytes); TF's DecodeBmp always keeps it.
	infoLen := d.u32(xs, k(14), c(true))
	noAlpha := op.LogicalAnd(xs.SubScope("o"), isBMP, op.LessEqual(xs.SubScope("o"), infoLen, k(40)))
	oa = d.sel(xs, noAlpha, k(255), oa)
	otherPix := op.Cast(xs.SubScope("o"), nrgbaOverWhite(xs, orgb, oa), tf.Uint8)
	gifOK := op.LogicalNot(xs.SubScope("o"), op.LogicalAnd(xs.SubScope("o"), isGIF, d.gifTransparent(xs.SubScope("gif"))))
	check := op.Assert(xs.SubScope("gif_transparency"), gifOK, []tf.Output{c(ErrGIFTransparencyMsg)})
	otherPix = op.Identity(xs.WithControlDependencies(check).SubScope("checked"), otherPix)

	// Pick the branch that applies (shapes differ: flatten, concatenate,
	// slice, reshape).
	ms := s.SubScope("merge")
	flatP := op.Reshape(ms.SubScope("o"), pngPix, c([]int32{-1}))
	flatO := op.Reshape(ms.SubScope("o"), otherPix, c([]int32{-1}))
	nP := op.Size(ms.SubScope("o"), flatP, op.SizeOutType(tf.Int32))
	nO := op.Size(ms.SubScope("o"), flatO, op.SizeOutType(tf.Int32))
	begin := d.sel(ms, isPNG, c(int32(0)), nP)
	size := d.sel(ms, isPNG, nP, nO)
	shape := d.sel(ms, isPNG, op.Shape(ms.SubScope("o"), pngPix, op.ShapeOutType(tf.Int32)), op.Shape(ms.SubScope("o"), otherPix, op.ShapeOutType(tf.Int32)))
	flat := op.ConcatV2(ms.SubScope("o"), []tf.Output{flatP, flatO}, c(int32(0)))
	img := op.Reshape(ms.SubScope("o"), op.Slice(ms.SubScope("o"), flat, op.Pack(ms.SubScope("o"), []tf.Output{begin}), op.Pack(ms.SubScope("o"), []tf.Output{size})), shape)

	// EXIF orientation, JPEG only (1 for everything else).
	es := s.SubScope("exif")
	o := d.sel(es, isJPEG, d.jpegOrientation(es), k(1))
	return orientImage(es, img, o, c), nil
}

// dec holds the byte vector of one encoded image and small graph helpers.
type dec struct {
	s    *op.Scope
	b    tf.Output // int64 [len+32]: the bytes, zero-padded
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
	return op.GatherV2(s.SubScope("o"), d.b, i, d.c(int32(0)))
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

// toRGBA expands x [h,w,C] (C = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) to
// [h,w,4] with alpha 255 where there was none.
func (d *dec) toRGBA(s *op.Scope, x tf.Output) tf.Output {
	sh := op.Shape(s.SubScope("o"), x, op.ShapeOutType(tf.Int32))
	ch := op.StridedSlice(s.SubScope("o"), sh, d.c([]int32{2}), d.c([]int32{3}), d.c([]int32{1}), op.StridedSliceShrinkAxisMask(1))
	hw1 := op.ConcatV2(s.SubScope("o"), []tf.Output{op.Slice(s.SubScope("o"), sh, d.c([]int32{0}), d.c([]int32{2})), d.c([]int32{1})}, d.c(int32(0)))
	opaque := op.Fill(s.SubScope("o"), hw1, d.c(int64(255)))
	ext := op.ConcatV2(s.SubScope("o"), []tf.Output{x, opaque}, d.c(int32(2))) // channel C is the added opaque alpha
	table := d.c([][]int32{{0, 0, 0, 1}, {0, 0, 0, 1}, {0, 1, 2, 3}, {0, 1, 2, 3}})
	idx := op.GatherV2(s.SubScope("o"), table, op.Sub(s.SubScope("o"), ch, d.c(int32(1))), d.c(int32(0)))
	return op.GatherV2(s.SubScope("o"), ext, idx, d.c(int32(2)))
}

// nrgbaOverWhite is pipeline/decode.go's image.NRGBA composite on white,
// (c·a + 255·(255 − a) + 127) / 255, on int64 8-bit values.
func nrgbaOverWhite(s *op.Scope, c, a tf.Output) tf.Output {
	k := func(v int64) tf.Output { return op.Const(s.SubScope("k"), v) }
	bg := op.Mul(s.SubScope("o"), k(255), op.Sub(s.SubScope("o"), k(255), a))
	return op.FloorDiv(s.SubScope("o"), op.AddV2(s.SubScope("o"), op.AddV2(s.SubScope("o"), op.Mul(s.SubScope("o"), c, a), bg), k(127)), k(255))
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

// gifTransparent reports whether the GIF's first Graphic Control Extension,
// among the first exportGIFBlocks extension blocks after the global colour
// table, sets the transparency flag.
func (d *dec) gifTransparent(s *op.Scope) tf.Output {
	k := func(v int64) tf.Output { return d.c(v) }
	and := func(x, y tf.Output) tf.Output { return op.LogicalAnd(s.SubScope("o"), x, y) }
	packed := d.at(s, k(10))
	gct := op.LeftShift(s.SubScope("o"), k(3), op.AddV2(s.SubScope("o"), op.BitwiseAnd(s.SubScope("o"), packed, k(7)), k(1)))
	p := op.AddV2(s.SubScope("o"), k(13), d.sel(s, op.Greater(s.SubScope("o"), op.BitwiseAnd(s.SubScope("o"), packed, k(0x80)), k(0)), gct, k(0)))
	done := d.c(false)
	transparent := d.c(false)
	for range exportGIFBlocks {
		ext := and(op.LogicalNot(s.SubScope("o"), done), op.Equal(s.SubScope("o"), d.at(s, p), k(0x21)))
		gce := and(ext, op.Equal(s.SubScope("o"), d.at(s, op.AddV2(s.SubScope("o"), p, k(1))), k(0xF9)))
		flag := op.Equal(s.SubScope("o"), op.BitwiseAnd(s.SubScope("o"), d.at(s, op.AddV2(s.SubScope("o"), p, k(3))), k(1)), k(1))
		transparent = op.LogicalOr(s.SubScope("o"), transparent, and(gce, flag))
		// Skip the extension: label, then sub-blocks until a zero size.
		q := op.AddV2(s.SubScope("o"), p, k(2))
		for range exportGIFSubBlocks {
			n := d.at(s, q)
			q = d.sel(s, op.Equal(s.SubScope("o"), n, k(0)), q, op.AddV2(s.SubScope("o"), op.AddV2(s.SubScope("o"), q, n), k(1)))
		}
		p = op.AddV2(s.SubScope("o"), q, k(1))
		done = op.LogicalOr(s.SubScope("o"), done, op.LogicalOr(s.SubScope("o"), op.LogicalNot(s.SubScope("o"), ext), gce))
	}
	return transparent
}

// orientImage applies EXIF orientation o (1..8) to img [h,w,3], as
// pipeline/exif.go's orient: transpose for 5..8, then flip rows for
// 3,4,7,8 and columns for 2,3,6,7.
func orientImage(s *op.Scope, img, o tf.Output, c func(any) tf.Output) tf.Output {
	in := func(set ...int64) tf.Output {
		return op.Any(s.SubScope("o"), op.Equal(s.SubScope("o"), o, c(set)), c(int32(0)))
	}
	sel := func(cond, x, y tf.Output) tf.Output {
		return s.SubScope("sel").AddOperation(tf.OpSpec{Type: "SelectV2", Input: []tf.Input{cond, x, y}}).Output(0)
	}
	perm := sel(op.GreaterEqual(s.SubScope("o"), o, c(int64(5))), c([]int32{1, 0, 2}), c([]int32{0, 1, 2}))
	x := op.Transpose(s.SubScope("o"), img, perm)
	x = sel(in(3, 4, 7, 8), op.ReverseV2(s.SubScope("o"), x, c([]int32{0})), x)
	x = sel(in(2, 3, 6, 7), op.ReverseV2(s.SubScope("o"), x, c([]int32{1})), x)
	return x
}
