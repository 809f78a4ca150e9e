package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // first frame, via image.Decode
	"image/jpeg"
	_ "image/png"
	"io"
	"os"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/webp"
)

// MaxPixels is the largest image (width × height) Decode accepts. Larger
// images are refused after reading only their header, so a small file that
// claims a huge size (a decompression bomb) cannot exhaust memory: 100
// megapixels decode to 300 MB of RGB, more than any photo a classifier needs.
const MaxPixels = 100_000_000

// maxFileBytes bounds how much DecodeFile reads; no sane photo is larger.
const maxFileBytes = 256 << 20

// decodeJPEGFast, when set (build tag libjpeg, see jpeg_libjpeg.go), decodes
// JPEGs with libjpeg-turbo at scale 1/denom (1, 2, 4 or 8), the whole image
// or, when crop is not empty, at least that rectangle of the scaled image
// (the part decoded starts at off); ok=false hands the image to image/jpeg.
var decodeJPEGFast func(data []byte, dst *RGB, denom int, crop image.Rectangle) (img *RGB, off image.Point, ok bool, err error)

// ErrTooLarge is returned (wrapped) by Decode for images over MaxPixels.
var ErrTooLarge = errors.New("image too large")

// ErrUnsupported is returned (wrapped) by Decode for data that is not a
// JPEG, PNG, GIF, BMP or WebP image.
var ErrUnsupported = errors.New("unsupported image format")

// RGB is an 8-bit RGB image: Pix holds 3·W·H bytes, row-major, R G B per
// pixel, no padding.
type RGB struct {
	W, H int
	Pix  []uint8
}

// DecodeFile reads and decodes the image at path; see Decode. Errors name the
// path.
func DecodeFile(path string) (*RGB, error) {
	data, err := readFile(path, nil)
	if err != nil {
		return nil, err
	}
	img, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// readFile reads path into buf (grown as needed) and returns the bytes read.
func readFile(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *fs.PathError already names the path
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, not an image", path)
	}
	if st.Size() > maxFileBytes {
		return nil, fmt.Errorf("%s: file is %d bytes, more than the %d allowed for one image", path, st.Size(), maxFileBytes)
	}
	n := int(st.Size())
	if cap(buf) < n+1 {
		buf = make([]byte, 0, n+512)
	}
	buf = buf[:cap(buf)]
	read := 0
	for {
		if read == len(buf) { // file grew since Stat
			buf = append(buf, 0)[:read]
			buf = buf[:cap(buf)]
		}
		m, err := f.Read(buf[read:])
		read += m
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		if read > maxFileBytes {
			return nil, fmt.Errorf("%s: file is larger than the %d bytes allowed for one image", path, maxFileBytes)
		}
	}
	return buf[:read], nil
}

// Decode decodes a JPEG (baseline, progressive, grayscale, CMYK/YCCK), PNG
// (8/16-bit, palette, alpha), GIF (first frame), BMP or WebP image into 8-bit
// RGB.
//
// JPEG EXIF orientation is applied, so the result is upright as a photo
// viewer shows it. Transparent pixels are composited on white: the colour
// stored under alpha 0 is arbitrary (often black), and product photos and
// icons with transparency are drawn to be seen on a white page. (TF's
// decode_png with channels=3 drops alpha instead; the exported graph
// reproduces this function's arithmetic, see tfgraph/export_decode.go and
// docs/export.md — change both together.) 16-bit channels keep their high
// byte.
//
// The size is checked from the header first: images over MaxPixels fail with
// ErrTooLarge, unknown formats with ErrUnsupported, both wrapped.
func Decode(data []byte) (*RGB, error) {
	return decodeInto(data, nil)
}

// decodeInto is Decode that may reuse dst's pixel buffer.
func decodeInto(data []byte, dst *RGB) (*RGB, error) {
	_, format, err := decodeHeader(data)
	if err != nil {
		return nil, err
	}
	if format == "jpeg" && decodeJPEGFast != nil {
		out, _, ok, err := decodeJPEGFast(data, dst, 1, image.Rectangle{})
		if ok {
			if err != nil {
				return nil, err
			}
			if o := jpegOrientation(data); o != 1 {
				out = orient(out, o)
			}
			return out, nil
		}
	}
	var im image.Image
	if format == "jpeg" {
		im, err = jpeg.Decode(bytes.NewReader(data))
	} else {
		im, _, err = image.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", format, err)
	}
	b := im.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 || int64(b.Dx())*int64(b.Dy()) > MaxPixels {
		return nil, fmt.Errorf("decode %s: invalid decoded size %dx%d", format, b.Dx(), b.Dy())
	}
	// WebP's lossy VP8 stores limited-range ("studio swing") BT.601 YCbCr,
	// which x/image/webp returns as-is; JPEG uses the full range.
	out := toRGB(im, dst, format == "webp")
	if format == "jpeg" {
		if o := jpegOrientation(data); o != 1 {
			out = orient(out, o)
		}
	}
	return out, nil
}

// decodeHeader reads the image's size and format and refuses empty data,
// unknown formats and images over MaxPixels.
func decodeHeader(data []byte) (image.Config, string, error) {
	if len(data) == 0 {
		return image.Config{}, "", errors.New("empty file (0 bytes)")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return cfg, "", fmt.Errorf("%w: not a JPEG, PNG, GIF, BMP or WebP image (starts with %q)", ErrUnsupported, head(data))
		}
		return cfg, "", fmt.Errorf("decode header: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return cfg, "", fmt.Errorf("decode %s: invalid size %dx%d", format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return cfg, "", fmt.Errorf("%w: %s of %dx%d pixels is over the %d-pixel limit (a decompression bomb or an oversized scan; downscale it first)",
			ErrTooLarge, format, cfg.Width, cfg.Height, MaxPixels)
	}
	return cfg, format, nil
}

// head returns a printable prefix of data for error messages.
func head(data []byte) string {
	if len(data) > 8 {
		data = data[:8]
	}
	return string(data)
}

// toRGB converts any image to packed 8-bit RGB, with fast paths for the types
// the standard decoders return. dst's buffer is reused when large enough.
func toRGB(im image.Image, dst *RGB, limitedRange bool) *RGB {
	b := im.Bounds()
	w, h := b.Dx(), b.Dy()
	if dst == nil {
		dst = &RGB{}
	}
	n := 3 * w * h
	if cap(dst.Pix) < n {
		dst.Pix = make([]uint8, n)
	}
	dst.W, dst.H, dst.Pix = w, h, dst.Pix[:n]
	pix := dst.Pix
	switch m := im.(type) {
	case *image.YCbCr:
		ycbcrToRGB(m, pix, limitedRange)
	case *image.NYCbCrA:
		ycbcrToRGB(&m.YCbCr, pix, limitedRange)
		for y := 0; y < h; y++ {
			row := m.A[y*m.AStride : y*m.AStride+w]
			o := pix[3*y*w : 3*(y+1)*w]
			for x, a := range row {
				if a == 255 {
					continue
				}
				bg := 255 * (255 - uint32(a))
				for c := 3 * x; c < 3*x+3; c++ {
					o[c] = uint8((uint32(o[c])*uint32(a) + bg + 127) / 255)
				}
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			o := pix[3*y*w : 3*(y+1)*w]
			for x, v := range row {
				o[3*x], o[3*x+1], o[3*x+2] = v, v, v
			}
		}
	case *image.CMYK:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			o := pix[3*y*w : 3*(y+1)*w]
			for x := 0; x < w; x++ {
				r, g, bb := color.CMYKToRGB(row[4*x], row[4*x+1], row[4*x+2], row[4*x+3])
				o[3*x], o[3*x+1], o[3*x+2] = r, g, bb
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			o := pix[3*y*w : 3*(y+1)*w]
			for x := 0; x < w; x++ {
				a := uint32(row[4*x+3])
				if a == 255 {
					o[3*x], o[3*x+1], o[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
					continue
				}
				bg := 255 * (255 - a)
				o[3*x] = uint8((uint32(row[4*x])*a + bg + 127) / 255)
				o[3*x+1] = uint8((uint32(row[4*x+1])*a + bg + 127) / 255)
				o[3*x+2] = uint8((uint32(row[4*x+2])*a + bg + 127) / 255)
			}
		}
	case *image.RGBA: // premultiplied: over white is c + (255 − a)
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			o := pix[3*y*w : 3*(y+1)*w]
			for x := 0; x < w; x++ {
				bg := 255 - row[4*x+3]
				o[3*x], o[3*x+1], o[3*x+2] = sat(row[4*x], bg), sat(row[4*x+1], bg), sat(row[4*x+2], bg)
			}
		}
	case *image.Paletted:
		var lut [256][3]uint8
		for i, c := range m.Palette {
			lut[i] = rgbOverWhite(c)
		}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			o := pix[3*y*w : 3*(y+1)*w]
			for x, v := range row {
				c := lut[v]
				o[3*x], o[3*x+1], o[3*x+2] = c[0], c[1], c[2]
			}
		}
	default: // 16-bit PNG and anything rarer: correct, not fast
		i := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := rgbOverWhite(im.At(x, y))
				pix[i], pix[i+1], pix[i+2] = c[0], c[1], c[2]
				i += 3
			}
		}
	}
	return dst
}

func sat(c, add uint8) uint8 {
	s := uint16(c) + uint16(add)
	if s > 255 {
		return 255
	}
	return uint8(s)
}

// rgbOverWhite composites c on white and keeps the high byte.
func rgbOverWhite(c color.Color) [3]uint8 {
	r, g, b, a := c.RGBA() // premultiplied, 16-bit
	bg := 0xffff - a
	return [3]uint8{uint8((r + bg) >> 8), uint8((g + bg) >> 8), uint8((b + bg) >> 8)}
}

// ycbcrToRGB converts a decoded JPEG (or lossy WebP) to RGB.
//
// For JPEG it reproduces libjpeg(-turbo)'s output stage, which TF's
// decode_jpeg uses (fancy_upscaling=True): "fancy" triangle-filter chroma
// upsampling for 4:2:0, 4:2:2 and 4:4:0 (jdsample.c h2v2/h2v1/h1v2
// _fancy_upsample, same rounding biases) and the jdcolor.c fixed-point
// YCbCr→RGB tables. image/jpeg's own At method uses nearest-neighbour chroma
// instead, which differs from TF by several levels at colour edges. What
// remains is the IDCT (Go's vs libjpeg's), ±1–2 levels.
//
// limitedRange (WebP's VP8) uses libwebp's VP8YUVToRGB (BT.601 studio
// range) and box (nearest) chroma.
func ycbcrToRGB(m *image.YCbCr, pix []uint8, limitedRange bool) {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	cw := (w + 1) / 2 // chroma plane width for horizontal subsampling by 2
	cbUp := make([]uint8, 2*cw)
	crUp := make([]uint8, 2*cw)
	ch := (h + 1) / 2
	for y := 0; y < h; y++ {
		yrow := m.Y[y*m.YStride : y*m.YStride+w]
		o := pix[3*y*w : 3*(y+1)*w]
		cb, cr := cbUp, crUp
		switch r := m.SubsampleRatio; {
		case r == image.YCbCrSubsampleRatio444:
			cb = m.Cb[y*m.CStride : y*m.CStride+w]
			cr = m.Cr[y*m.CStride : y*m.CStride+w]
		case limitedRange || r == image.YCbCrSubsampleRatio411 || r == image.YCbCrSubsampleRatio410:
			shift, cy := 0, y
			switch r {
			case image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422:
				shift = 1
			case image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410:
				shift = 2
			}
			if r == image.YCbCrSubsampleRatio420 || r == image.YCbCrSubsampleRatio440 || r == image.YCbCrSubsampleRatio410 {
				cy = y / 2
			}
			for x := range w {
				cbUp[x] = m.Cb[cy*m.CStride+x>>shift]
				crUp[x] = m.Cr[cy*m.CStride+x>>shift]
			}
		case r == image.YCbCrSubsampleRatio420:
			cy := y / 2
			ny := cy - 1 // the nearer neighbouring chroma row
			bias0, bias1 := int32(8), int32(7)
			if y%2 == 1 {
				ny = cy + 1
			}
			ny = min(max(ny, 0), ch-1)
			fancyH2V2(m.Cb[cy*m.CStride:cy*m.CStride+cw], m.Cb[ny*m.CStride:ny*m.CStride+cw], cbUp, bias0, bias1)
			fancyH2V2(m.Cr[cy*m.CStride:cy*m.CStride+cw], m.Cr[ny*m.CStride:ny*m.CStride+cw], crUp, bias0, bias1)
		case r == image.YCbCrSubsampleRatio422:
			fancyH2V1(m.Cb[y*m.CStride:y*m.CStride+cw], cbUp)
			fancyH2V1(m.Cr[y*m.CStride:y*m.CStride+cw], crUp)
		case r == image.YCbCrSubsampleRatio440:
			cy := y / 2
			ny, bias := cy-1, int32(1)
			if y%2 == 1 {
				ny, bias = cy+1, 2
			}
			ny = min(max(ny, 0), ch-1)
			for x := range w {
				cbUp[x] = uint8((3*int32(m.Cb[cy*m.CStride+x]) + int32(m.Cb[ny*m.CStride+x]) + bias) >> 2)
				crUp[x] = uint8((3*int32(m.Cr[cy*m.CStride+x]) + int32(m.Cr[ny*m.CStride+x]) + bias) >> 2)
			}
		}
		if limitedRange {
			for x := 0; x < w; x++ {
				yy := mulHi(int32(yrow[x]), 19077)
				u, v := int32(cb[x]), int32(cr[x])
				o[3*x] = clip8(yy + mulHi(v, 26149) - 14234)
				o[3*x+1] = clip8(yy - mulHi(u, 6419) - mulHi(v, 13320) + 8708)
				o[3*x+2] = clip8(yy + mulHi(u, 33050) - 17685)
			}
			continue
		}
		cb, cr = cb[:len(yrow)], cr[:len(yrow)]
		o = o[:3*len(yrow)]
		for x, yv := range yrow {
			yy := int32(yv) + 256 // offset into rangeLimit
			u, v := cb[x], cr[x]
			q := o[3*x : 3*x+3 : 3*x+3]
			q[0] = rangeLimit[(yy+crR[v])&1023]
			q[1] = rangeLimit[(yy+(cbG[u]+crG[v])>>16)&1023]
			q[2] = rangeLimit[(yy+cbB[u])&1023]
		}
	}
}

// fancyH2V2 is libjpeg's h2v2_fancy_upsample for one output row: in0 is the
// chroma row covering it, in1 the nearer neighbouring row. out must hold
// 2·len(in0) values.
func fancyH2V2(in0, in1, out []uint8, bias0, bias1 int32) {
	n := len(in0)
	in1 = in1[:n]
	out = out[:2*n]
	if n == 1 {
		v := (int32(in0[0])*3 + int32(in1[0])) * 4
		out[0], out[1] = uint8((v+8)>>4), uint8((v+7)>>4)
		return
	}
	this := int32(in0[0])*3 + int32(in1[0])
	next := int32(in0[1])*3 + int32(in1[1])
	out[0] = uint8((this*4 + 8) >> 4)
	out[1] = uint8((this*3 + next + 7) >> 4)
	last := this
	this = next
	for c := 1; c < n-1; c++ {
		next = int32(in0[c+1])*3 + int32(in1[c+1])
		o := out[2*c : 2*c+2 : 2*c+2]
		o[0] = uint8((this*3 + last + bias0) >> 4)
		o[1] = uint8((this*3 + next + bias1) >> 4)
		last, this = this, next
	}
	out[2*n-2] = uint8((this*3 + last + 8) >> 4)
	out[2*n-1] = uint8((this*4 + 7) >> 4)
}

// fancyH2V1 is libjpeg's h2v1_fancy_upsample (4:2:2). out must hold
// 2·len(in) values.
func fancyH2V1(in, out []uint8) {
	n := len(in)
	out = out[:2*n]
	if n == 1 {
		out[0], out[1] = in[0], in[0]
		return
	}
	out[0] = in[0]
	out[1] = uint8((int32(in[0])*3 + int32(in[1]) + 2) >> 2)
	for c := 1; c < n-1; c++ {
		v := int32(in[c]) * 3
		o := out[2*c : 2*c+2 : 2*c+2]
		o[0] = uint8((v + int32(in[c-1]) + 1) >> 2)
		o[1] = uint8((v + int32(in[c+1]) + 2) >> 2)
	}
	out[2*n-2] = uint8((int32(in[n-1])*3 + int32(in[n-2]) + 1) >> 2)
	out[2*n-1] = in[n-1]
}

// libjpeg jdcolor.c build_ycc_rgb_table, SCALEBITS = 16.
var crR, cbB, crG, cbG [256]int32

func init() {
	const half = 1 << 15
	fix := func(x float64) int32 { return int32(x*(1<<16) + 0.5) }
	for i := range 256 {
		x := int32(i - 128)
		crR[i] = (fix(1.40200)*x + half) >> 16
		cbB[i] = (fix(1.77200)*x + half) >> 16
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + half
	}
}

// rangeLimit[v+256] clamps v to 0..255 for v in −256..767 (libjpeg's
// range_limit table); indexes are masked to 10 bits, so no bounds checks.
var rangeLimit [1024]uint8

func init() {
	for i := range rangeLimit {
		rangeLimit[i] = clampByte(int32(i) - 256)
	}
}

func clampByte(v int32) uint8 {
	if uint32(v) <= 255 {
		return uint8(v)
	}
	if v < 0 {
		return 0
	}
	return 255
}

// libwebp's yuv.h fixed-point helpers.
func mulHi(v, coeff int32) int32 { return (v * coeff) >> 8 }

func clip8(v int32) uint8 {
	if v&^(256<<6-1) == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}

// JPEGDecoder names the JPEG decoder in use: "libjpeg-turbo" when built with
// cgo and the libjpeg tag, else "image/jpeg" (for tlearn info and logs).
func JPEGDecoder() string {
	if decodeJPEGFast != nil {
		return "libjpeg-turbo"
	}
	return "image/jpeg"
}
