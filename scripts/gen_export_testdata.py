#!/usr/bin/env python3
"""Generate pipeline/testdata/kinds: images of the kinds the pipeline decodes
that pipeline/testdata/img does not already cover (alpha at every level,
grey+alpha, 16-bit alpha, tRNS colour keys, 1-bit grey, GIF transparency,
32-bit BMP, little-endian EXIF behind other tags, a transparent GIF
with black in its palette, which the serving graph refuses). The export test
(export/export_test.go TestSavedModelBytesMatchesPipeline) runs every file of
img/, exif/ and kinds/ through the SavedModel's bytes signature and the Go
pipeline.

Run from the repository root with the reference environment:
    .cache/pyenv/bin/python scripts/gen_export_testdata.py
Deterministic.
"""
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pipeline", "testdata", "kinds")
W, H = 40, 30


def path(name):
    os.makedirs(OUT, exist_ok=True)
    return os.path.join(OUT, name)


def photo(seed, w=W, h=H):
    """Smooth gradients, a disc and mild noise: a stand-in for a photo."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 128 + 100 * np.sin(x / 5.0 + seed) * np.cos(y / 7.0)
    g = 128 + 90 * np.cos((x + y) / 6.0 + seed)
    b = 255 * (x / (w - 1)) * (y / (h - 1))
    a = np.stack([r, g, b], -1)
    a[(x - w / 3) ** 2 + (y - h / 2) ** 2 < (min(w, h) / 4) ** 2] = (240, 200, 30)
    a += rng.normal(0, 6, a.shape)
    return np.clip(a, 0, 255).astype(np.uint8)


def alpha_ramp(w=W, h=H):
    """Every alpha level 0..255 (row-major ramp), opaque and clear bands."""
    a = (np.arange(w * h) % 256).astype(np.uint8).reshape(h, w)
    a[:, :4] = 255
    a[:, -4:] = 0
    return a


def chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def write_png(p, arr, bit_depth, color_type):
    """A PNG by hand (PIL cannot write 16-bit colour or 16-bit grey+alpha)."""
    h, w = arr.shape[:2]
    dt = ">u2" if bit_depth == 16 else "u1"
    raw = b"".join(b"\x00" + arr[y].astype(dt).tobytes() for y in range(h))
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    open(p, "wb").write(data)


def exif_le(orientation):
    """Little-endian TIFF IFD0 with two tags before Orientation."""
    entries = [(0x010F, 2, 4, b"ACME"), (0x0110, 2, 4, b"CAM\x00"), (0x0112, 3, 1, struct.pack("<HH", orientation, 0))]
    ifd = struct.pack("<H", len(entries))
    for tag, typ, n, val in entries:
        ifd += struct.pack("<HHI", tag, typ, n) + val
    ifd += struct.pack("<I", 0)
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd


def main():
    rgb = photo(1)
    a = alpha_ramp()
    Image.fromarray(np.dstack([rgb, a]), "RGBA").save(path("rgba_ramp.png"))
    grey = photo(2)[..., 0]
    Image.fromarray(np.dstack([grey, a]), "LA").save(path("grey_alpha.png"))
    r16 = photo(3).astype(np.uint16) * 257 + np.arange(W, dtype=np.uint16)[None, :, None] * 3
    a16 = (np.arange(W * H, dtype=np.uint32).reshape(H, W) * 2113 % 65536).astype(np.uint16)
    a16[:, :4], a16[:, -4:] = 65535, 0
    write_png(path("rgba16.png"), np.dstack([r16, a16]), 16, 6)
    write_png(path("grey_alpha16.png"), np.dstack([r16[..., 1], a16]), 16, 4)
    im = Image.fromarray(photo(4))
    key = tuple(int(v) for v in photo(4)[5, 5])
    im.save(path("rgb_trns.png"), transparency=key)
    g = Image.fromarray(photo(5)[..., 1])
    g.save(path("grey_trns.png"), transparency=int(photo(5)[3, 3, 1]))
    Image.fromarray(photo(6)[..., 2]).convert("1").save(path("grey1.png"))
    pal = Image.fromarray(photo(7)).quantize(64)
    pal.save(path("trns.gif"), transparency=0)
    # Transparency and a real black in the palette: TF's DecodeGif gives both
    # as black, so the serving graph refuses it.
    idx = (np.arange(W * H).reshape(H, W) // 37 % 8).astype(np.uint8)
    pb = Image.fromarray(idx, "P")
    pb.putpalette([255, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0, 255, 200, 200, 0, 0, 200, 200, 90, 90, 90, 250, 250, 250])
    pb.save(path("trns_black.gif"), transparency=0)
    Image.fromarray(np.dstack([photo(8), a]), "RGBA").save(path("rgba32.bmp"))
    up = Image.fromarray(photo(9))
    up.transpose(Image.Transpose.ROTATE_90).save(path("exif_le6.jpg"), quality=95, exif=exif_le(6))


if __name__ == "__main__":
    main()
