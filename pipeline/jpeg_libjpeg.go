//go:build cgo && libjpeg

package pipeline

// Optional JPEG decoding through the system libjpeg-turbo (Debian:
// libjpeg62-turbo-dev), enabled with `go build -tags libjpeg` (and cgo). It
// is 2–3× faster than image/jpeg (SIMD IDCT and colour conversion) and, with
// the settings below, decodes exactly like TensorFlow's decode_jpeg
// (dct_method "" = JDCT_IFAST, fancy_upscaling=True), so training and the
// exported graph see the same pixels. CMYK/YCCK JPEGs and anything libjpeg
// refuses fall back to image/jpeg. The default build stays pure Go.
//
// The loader also uses libjpeg-turbo's DCT scaling (scale_denom 2, 4, 8) and
// cropped decoding (jpeg_crop_scanline, jpeg_skip_scanlines); see
// jpegscale.go for when, and EvalJPEGScale for the rule an exported graph
// must follow (decode_jpeg's ratio attribute) to compute the same pixels.

/*
#cgo LDFLAGS: -ljpeg
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	int truncated;
	char msg[JMSG_LENGTH_MAX];
} tl_err;

static void tl_error_exit(j_common_ptr c) {
	tl_err *e = (tl_err *)c->err;
	(*c->err->format_message)(c, e->msg);
	longjmp(e->jb, 1);
}

static void tl_emit(j_common_ptr c, int level) {
	tl_err *e = (tl_err *)c->err;
	if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) {
		e->truncated = 1;
	}
}

// tl_jpeg decodes data at scale 1/denom (denom 1, 2, 4 or 8: libjpeg's
// DCT-domain scaling, as TF's decode_jpeg ratio attribute does). With out ==
// NULL it reads the header only and returns the scaled output size in *w, *h.
// Otherwise it decodes the rows [y0, y0+ch) and at least the columns [x0,
// x0+cw) of the scaled image (cw == 0: all of it) into out, which holds
// (*w)·ch RGB pixels on return: libjpeg aligns the column range to iMCU
// boundaries, so *x0 and *w are set to the columns actually decoded. Returns
// 0 on success, 1 on a libjpeg error (message in msg), 2 when the colour
// space is not handled here (use another decoder), 3 when truncated, 4 when
// the output would not fit in cap bytes.
static int tl_jpeg(const unsigned char *data, unsigned long n, int denom, unsigned char *out,
		size_t cap, int *x0, int y0, int cw, int ch, int *w, int *h, char *msg) {
	struct jpeg_decompress_struct cinfo;
	tl_err err;
	memset(&err, 0, sizeof err);
	cinfo.err = jpeg_std_error(&err.pub);
	err.pub.error_exit = tl_error_exit;
	err.pub.emit_message = tl_emit;
	if (setjmp(err.jb)) {
		strncpy(msg, err.msg, JMSG_LENGTH_MAX - 1);
		jpeg_destroy_decompress(&cinfo);
		return 1;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, (unsigned char *)data, n);
	jpeg_read_header(&cinfo, TRUE);
	if (cinfo.jpeg_color_space != JCS_GRAYSCALE && cinfo.jpeg_color_space != JCS_YCbCr &&
			cinfo.jpeg_color_space != JCS_RGB) {
		jpeg_destroy_decompress(&cinfo);
		return 2;
	}
	cinfo.out_color_space = JCS_RGB;
	cinfo.dct_method = JDCT_IFAST;        // TF decode_jpeg's default
	cinfo.do_fancy_upsampling = TRUE;     // TF: fancy_upscaling=True
	cinfo.scale_num = 1;
	cinfo.scale_denom = denom;
	jpeg_calc_output_dimensions(&cinfo);
	*w = cinfo.output_width;
	*h = cinfo.output_height;
	if (out == NULL) {
		jpeg_destroy_decompress(&cinfo);
		return 0;
	}
	jpeg_start_decompress(&cinfo);
	if (cinfo.output_components != 3 || y0 < 0 || ch <= 0 || y0 + ch > (int)cinfo.output_height) {
		jpeg_destroy_decompress(&cinfo);
		return 2;
	}
	if (cw > 0 && (*x0 > 0 || cw < (int)cinfo.output_width)) {
		JDIMENSION xo = *x0, wo = cw;
		jpeg_crop_scanline(&cinfo, &xo, &wo);
		*x0 = xo;
	} else {
		*x0 = 0;
	}
	*w = cinfo.output_width;
	size_t stride = (size_t)(*w) * 3;
	if (stride * (size_t)ch > cap) {
		jpeg_destroy_decompress(&cinfo);
		return 4;
	}
	if (y0 > 0) {
		jpeg_skip_scanlines(&cinfo, y0);
	}
	while ((int)cinfo.output_scanline < y0 + ch) {
		JSAMPROW row = out + (size_t)(cinfo.output_scanline - y0) * stride;
		jpeg_read_scanlines(&cinfo, &row, 1);
	}
	if (cinfo.output_scanline < cinfo.output_height) {
		jpeg_abort_decompress(&cinfo); // the rows below the crop are not needed
	} else {
		jpeg_finish_decompress(&cinfo);
	}
	jpeg_destroy_decompress(&cinfo);
	return err.truncated ? 3 : 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"unsafe"
)

func init() { decodeJPEGFast = libjpegDecode }

// libjpegDecode decodes data at scale 1/denom into dst's buffer: the whole
// image when crop is empty, else at least crop (in scaled coordinates,
// clipped to the image), returning the decoded part and its offset in the
// scaled image. ok=false means "use image/jpeg instead" (unhandled colour
// space).
func libjpegDecode(data []byte, dst *RGB, denom int, crop image.Rectangle) (img *RGB, off image.Point, ok bool, err error) {
	var w, h C.int
	msg := (*C.char)(C.malloc(C.JMSG_LENGTH_MAX))
	defer C.free(unsafe.Pointer(msg))
	p := (*C.uchar)(unsafe.Pointer(&data[0]))
	var x0 C.int
	switch C.tl_jpeg(p, C.ulong(len(data)), C.int(denom), nil, 0, &x0, 0, 0, 0, &w, &h, msg) {
	case 0:
	case 2:
		return nil, off, false, nil
	default:
		return nil, off, true, fmt.Errorf("decode jpeg: %s", C.GoString(msg))
	}
	if w <= 0 || h <= 0 || int64(w)*int64(h) > MaxPixels {
		return nil, off, true, fmt.Errorf("%w: jpeg of %dx%d pixels", ErrTooLarge, w, h)
	}
	full := image.Rect(0, 0, int(w), int(h))
	if crop.Empty() {
		crop = full
	} else if crop = crop.Intersect(full); crop.Empty() {
		crop = full
	}
	if dst == nil {
		dst = &RGB{}
	}
	n := 3 * int(w) * crop.Dy() // libjpeg may widen the columns up to the whole row
	if cap(dst.Pix) < n {
		dst.Pix = make([]uint8, n)
	}
	x0 = C.int(crop.Min.X)
	cw := C.int(crop.Dx())
	if crop.Dx() == int(w) {
		cw = 0
	}
	pix := dst.Pix[:cap(dst.Pix)]
	switch C.tl_jpeg(p, C.ulong(len(data)), C.int(denom), (*C.uchar)(unsafe.Pointer(&pix[0])), C.size_t(len(pix)),
		&x0, C.int(crop.Min.Y), cw, C.int(crop.Dy()), &w, &h, msg) {
	case 0:
		dst.W, dst.H, dst.Pix = int(w), crop.Dy(), pix[:3*int(w)*crop.Dy()]
		return dst, image.Pt(int(x0), crop.Min.Y), true, nil
	case 2:
		return nil, off, false, nil
	case 3:
		return nil, off, true, errors.New("decode jpeg: unexpected EOF (truncated file)")
	case 4:
		return nil, off, true, errors.New("decode jpeg: cropped output larger than expected")
	default:
		return nil, off, true, fmt.Errorf("decode jpeg: %s", C.GoString(msg))
	}
}
