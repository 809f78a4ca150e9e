#!/usr/bin/env python3
"""Generate pipeline/testdata/kinds/scale*.jpg: JPEGs large enough that the
libjpeg build of the pipeline decodes them at DCT scale 1/2, 1/4 and 1/8 for
the export tests' 32-pixel input (EvalJPEGScale: the central square is at
least 2, 4, 8 times 32), with odd sizes (4:2:0 with a partial MCU), EXIF
orientation 6, greyscale and 4:4:4 progressive. The serving graph's bytes
signature must pick the same ratio
(export/kinds_test.go TestSavedModelBytesMatchesPipeline,
tfgraph/export_decode_test.go TestPreprocessBodyMatchesDecodeApply).

Run from the repository root with the reference environment:
    .cache/pyenv/bin/python scripts/gen_jpegscale_testdata.py
Deterministic.
"""
from PIL import Image

from gen_export_testdata import exif_le, path, photo


def main():
    Image.fromarray(photo(11, 75, 65)).save(path("scale2_odd420.jpg"), quality=85)
    up = Image.fromarray(photo(12, 131, 150))  # upright 131×150, stored 150×131
    up.transpose(Image.Transpose.ROTATE_90).save(path("scale4_exif6.jpg"), quality=85, exif=exif_le(6))
    Image.fromarray(photo(13, 270, 257)[..., 1]).save(path("scale8_grey.jpg"), quality=80)
    Image.fromarray(photo(14, 300, 263)).save(path("scale8_444_progressive.jpg"), quality=80, subsampling=0, progressive=True)


if __name__ == "__main__":
    main()
