#!/usr/bin/env python3
"""Generate pipeline/testdata: small images in every supported format, EXIF
orientation fixtures, bad files, and golden preprocessing outputs computed by
real TensorFlow (tf.image.resize bilinear + antialias), which the Go tests
compare against.

Run from the repository root with the reference environment:
    .cache/pyenv/bin/python scripts/gen_pipeline_testdata.py
Deterministic: re-running produces the same files (except for PIL/TF version
changes, which the Go tests' tolerances absorb).
"""
import io
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pipeline", "testdata")
MEANS = np.array([123.68, 116.78, 103.94], np.float32)


def path(*p):
    full = os.path.join(OUT, *p)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    return full


def quadrants(w=32, h=24):
    """Red top-left, green top-right, blue bottom-left, white bottom-right:
    any flip or rotation is visible, and flat colours survive lossy codecs."""
    a = np.zeros((h, w, 3), np.uint8)
    a[: h // 2, : w // 2] = (255, 0, 0)
    a[: h // 2, w // 2 :] = (0, 255, 0)
    a[h // 2 :, : w // 2] = (0, 0, 255)
    a[h // 2 :, w // 2 :] = (255, 255, 255)
    return a


def photo(w, h, seed):
    """Smooth gradients, edges and mild noise: a stand-in for a photo."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 128 + 100 * np.sin(x / 7.0) * np.cos(y / 11.0)
    g = 128 + 90 * np.cos((x + y) / 9.0)
    b = 255 * (x / max(w - 1, 1)) * (y / max(h - 1, 1))
    a = np.stack([r, g, b], -1)
    a[(x - w / 3) ** 2 + (y - h / 2) ** 2 < (min(w, h) / 4) ** 2] = (240, 200, 30)
    a += rng.normal(0, 6, a.shape)
    return np.clip(a, 0, 255).astype(np.uint8)


def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def write_png16(p, arr16):
    """16-bit RGB PNG by hand (PIL cannot write 16-bit RGB)."""
    h, w, _ = arr16.shape
    raw = b"".join(b"\x00" + arr16[y].astype(">u2").tobytes() for y in range(h))
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
    data += png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b"")
    open(p, "wb").write(data)


def write_bomb(p):
    """A valid PNG header claiming 100000×100000 pixels with almost no data."""
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
    data += png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + png_chunk(b"IEND", b"")
    open(p, "wb").write(data)


# PIL transpose that turns the stored pixels upright for each EXIF orientation
# (as ImageOps.exif_transpose); the stored image is its inverse applied to the
# upright one.
INVERSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # inverse of exif_transpose's ROTATE_270
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,  # inverse of ROTATE_90
}


def main():
    q = Image.fromarray(quadrants())
    # Formats: every file decodes to the quadrant image.
    q.save(path("img", "baseline.jpg"), quality=95)
    q.save(path("img", "progressive.jpg"), quality=95, progressive=True)
    q.save(path("img", "q444.jpg"), quality=95, subsampling=0)
    q.convert("L").save(path("img", "gray.jpg"), quality=95)
    q.convert("CMYK").save(path("img", "cmyk.jpg"), quality=95)
    q.save(path("img", "rgb.png"))
    q.convert("P", palette=Image.Palette.ADAPTIVE, colors=8).save(path("img", "palette.png"))
    write_png16(path("img", "rgb16.png"), quadrants().astype(np.uint16) * 257)
    rgba = np.dstack([quadrants(), np.full((24, 32), 255, np.uint8)])
    rgba[12:, 16:, :] = (10, 20, 30, 0)  # transparent white quadrant: must come out white
    rgba[:12, 16:, 3] = 128  # half-transparent green: (0,255,0)·½ + white·½
    Image.fromarray(rgba, "RGBA").save(path("img", "rgba.png"))
    # Lossy WebP with alpha (x/image/webp returns NYCbCrA), 16-bit grey PNG,
    # and a palette PNG whose white quadrant is a transparent palette entry.
    Image.fromarray(rgba, "RGBA").save(path("img", "rgba_lossy.webp"), quality=95)
    Image.fromarray((np.asarray(q.convert("L")).astype(np.uint16) * 257)).save(path("img", "gray16.png"))
    pal = q.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    white = [i for i in range(4) if pal.getpalette()[3 * i : 3 * i + 3] == [255, 255, 255]][0]
    pal.save(path("img", "palette_trns.png"), transparency=white)
    frames = [q, Image.new("RGB", q.size, (0, 0, 0))]
    frames[0].save(path("img", "anim.gif"), save_all=True, append_images=frames[1:], duration=100)
    q.save(path("img", "rgb.bmp"))
    q.save(path("img", "lossless.webp"), lossless=True)
    q.save(path("img", "lossy.webp"), quality=95)
    # Upper-case extension: folder walking must accept it.
    q.save(path("img", "upper.JPEG"), format="JPEG", quality=95)

    # EXIF orientation: stored transformed, tagged so that viewers show q.
    for o in range(1, 9):
        stored = q if o == 1 else q.transpose(INVERSE[o])
        exif = Image.Exif()
        exif[0x0112] = o
        stored.save(path("exif", f"orient{o}.jpg"), quality=95, exif=exif.tobytes())

    # Bad files.
    open(path("bad", "zero.jpg"), "wb").close()
    jpg = open(path("img", "baseline.jpg"), "rb").read()
    open(path("bad", "truncated.jpg"), "wb").write(jpg[: len(jpg) // 2])
    open(path("bad", "text.jpg"), "w").write("this is not an image, just text renamed .jpg\n")
    write_bomb(path("bad", "bomb.png"))

    # Golden preprocessing from TensorFlow, on lossless sources so that
    # decoding is identical.
    src = photo(77, 53, 1)
    tiny = photo(13, 9, 2)
    Image.fromarray(src).save(path("golden", "src.png"))
    Image.fromarray(tiny).save(path("golden", "tiny.png"))
    Image.fromarray(photo(96, 64, 3)).save(path("golden", "photo.jpg"), quality=90)
    # Odd sizes exercise the edge columns/rows of chroma upsampling.
    Image.fromarray(photo(95, 63, 4)).save(path("golden", "photo_odd420.jpg"), quality=90, subsampling=2)
    Image.fromarray(photo(95, 63, 5)).save(path("golden", "photo_odd422.jpg"), quality=90, subsampling=1)

    import tensorflow as tf

    def resize(img, h, w):
        x = tf.image.resize(tf.constant(img[None]), [h, w], method="bilinear", antialias=True)
        return x.numpy()[0]

    def save(name, arr):
        arr.astype("<f4").tofile(path("golden", name))

    def crop_eval(img, S):
        h, w = img.shape[:2]
        s = min(h, w)
        y0, x0 = (h - s) // 2, (w - s) // 2
        return resize(img[y0 : y0 + s, x0 : x0 + s], S, S) - MEANS

    def vgg_eval(img, S):
        # Slim's 256 for 224 px, scaled with S (pipeline.VGGResizeRange).
        side = max((256 * S + 112) // 224, S)
        h, w = img.shape[:2]
        scale = np.float32(side) / np.float32(min(h, w))
        nh, nw = int(np.rint(np.float32(h) * scale)), int(np.rint(np.float32(w) * scale))
        r = resize(img, nh, nw)
        y0, x0 = (nh - S) // 2, (nw - S) // 2
        return r[y0 : y0 + S, x0 : x0 + S] - MEANS

    save("crop_eval_src_32.f32", crop_eval(src, 32))
    save("crop_eval_tiny_32.f32", crop_eval(tiny, 32))
    save("vgg_eval_src_32.f32", vgg_eval(src, 32))
    # A fixed training geometry: crop (x0=3, y0=5, side 40) of src, resized to
    # 24 and flipped.
    c = resize(src[5:45, 3:43], 24, 24)[:, ::-1] - MEANS
    save("crop_train_src_24.f32", c)
    # TensorFlow's JPEG decoder on a photo, to measure Go's decoder against.
    for name in ["photo", "photo_odd420", "photo_odd422"]:
        dec = tf.io.decode_jpeg(open(path("golden", name + ".jpg"), "rb").read(), channels=3).numpy()
        dec.tofile(path("golden", name + "_tfdecode.rgb"))
    scaled_decode_goldens(tf, crop_eval, save)
    print("wrote", os.path.normpath(OUT))


def scaled_decode_goldens(tf, crop_eval, save):
    """decode_jpeg(ratio=2/4/8): libjpeg-turbo's DCT-scaled decoding, which
    the libjpeg build's loader uses and the exported graph must match; and
    StyleCrop eval preprocessing on the scaled decode (the export contract:
    ratio = Preprocess.EvalJPEGScale(w, h), then the usual graph)."""
    for name in ["golden/photo", "golden/photo_odd420", "golden/photo_odd422", "img/q444"]:
        data = open(path(name + ".jpg"), "rb").read()
        for r in (2, 4, 8):
            dec = tf.io.decode_jpeg(data, channels=3, ratio=r).numpy()
            dec.tofile(path("golden", os.path.basename(name) + "_tfdecode_r%d.rgb" % r))
    data = open(path("golden", "photo.jpg"), "rb").read()  # 96x64
    for S, r in ((32, 2), (16, 4), (8, 8)):
        dec = tf.io.decode_jpeg(data, channels=3, ratio=r).numpy()
        save("crop_eval_photo_r%d_%d.f32" % (r, S), crop_eval(dec, S))


if __name__ == "__main__":
    sys.exit(main())
