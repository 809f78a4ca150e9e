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
// No DCT-domain downscaling (scale_denom) yet, on purpose: for Food-101-size
// inputs (512 px, crop ≈ 364 → 224) no power-of-two reduction keeps the crop
// above the input size, and any scaling would have to be mirrored in the
// exported graph (decode_jpeg ratio=2/4/8 chosen by the same rule) to keep
// train and serve identical. It is the next step for folders of phone photos:
// BenchmarkDecodeJPEG12MP decodes 4032×3024 in ~60 ms here vs ~300 ms pure Go.

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

// tl_jpeg decodes data. With out == NULL it reads the header only. Returns 0
// on success, 1 on a libjpeg error (message in msg), 2 when the colour space
// is not handled here (use another decoder), 3 when truncated.
static int tl_jpeg(const unsigned char *data, unsigned long n, unsigned char *out,
		int *w, int *h, char *msg) {
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
	*w = cinfo.image_width;
	*h = cinfo.image_height;
	if (out == NULL) {
		jpeg_destroy_decompress(&cinfo);
		return 0;
	}
	cinfo.out_color_space = JCS_RGB;
	cinfo.dct_method = JDCT_IFAST;        // TF decode_jpeg's default
	cinfo.do_fancy_upsampling = TRUE;     // TF: fancy_upscaling=True
	jpeg_start_decompress(&cinfo);
	if ((int)cinfo.output_width != *w || (int)cinfo.output_height != *h || cinfo.output_components != 3) {
		jpeg_destroy_decompress(&cinfo);
		return 2;
	}
	size_t stride = (size_t)(*w) * 3;
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW row = out + (size_t)cinfo.output_scanline * stride;
		jpeg_read_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_decompress(&cinfo);
	jpeg_destroy_decompress(&cinfo);
	return err.truncated ? 3 : 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

func init() { decodeJPEGFast = libjpegDecode }

// libjpegDecode decodes data into dst's buffer. ok=false means "use
// image/jpeg instead" (unhandled colour space).
func libjpegDecode(data []byte, dst *RGB) (img *RGB, ok bool, err error) {
	var w, h C.int
	msg := (*C.char)(C.malloc(C.JMSG_LENGTH_MAX))
	defer C.free(unsafe.Pointer(msg))
	p := (*C.uchar)(unsafe.Pointer(&data[0]))
	switch C.tl_jpeg(p, C.ulong(len(data)), nil, &w, &h, msg) {
	case 0:
	case 2:
		return nil, false, nil
	default:
		return nil, true, fmt.Errorf("decode jpeg: %s", C.GoString(msg))
	}
	if w <= 0 || h <= 0 || int64(w)*int64(h) > MaxPixels {
		return nil, true, fmt.Errorf("%w: jpeg of %dx%d pixels", ErrTooLarge, w, h)
	}
	if dst == nil {
		dst = &RGB{}
	}
	n := 3 * int(w) * int(h)
	if cap(dst.Pix) < n {
		dst.Pix = make([]uint8, n)
	}
	dst.W, dst.H, dst.Pix = int(w), int(h), dst.Pix[:n]
	switch C.tl_jpeg(p, C.ulong(len(data)), (*C.uchar)(unsafe.Pointer(&dst.Pix[0])), &w, &h, msg) {
	case 0:
		return dst, true, nil
	case 2:
		return nil, false, nil
	case 3:
		return nil, true, errors.New("decode jpeg: unexpected EOF (truncated file)")
	default:
		return nil, true, fmt.Errorf("decode jpeg: %s", C.GoString(msg))
	}
}
