"""Load a tlearn SavedModel with Python TensorFlow and run its signatures.

Used by the Go tests (tfgraph/savedmodel_test.go, export/export_test.go):

    python scripts/tf_savedmodel_check.py DIR [--images F32 --n N --size S]
        [--style crop|vgg] [--pixels-out F32] [--encoded FILE...]

prints one JSON object on the last line of stdout:
    signatures            sorted signature keys of tf.saved_model.load(DIR)
    assets                file names of the loaded model's assets
    float_probabilities   serving_float(images=...) on the raw float32 NHWC file
    float_classes
    bytes_probabilities   serving_default(image_bytes=...) on the files' bytes
    bytes_classes
    reference_classes     top-1 of serving_float on the same files preprocessed
                          by the documented TF ops in Python (decode_image, or
                          decode_jpeg(ratio) for a JPEG at least twice the size,
                          --style crop or vgg geometry, tf.image.resize
                          bilinear antialias, minus the VGG means): checks the
                          in-graph preprocessing against its written definition.
                          decode_image(channels=3) drops alpha and ignores EXIF
                          orientation, so this reference holds for opaque,
                          upright images only (the graph composites onto white
                          and orients, as tlearn's pipeline; docs/export.md).
"""

import argparse
import json
import os

import numpy as np
import tensorflow as tf

VGG_MEANS = np.array([123.68, 116.78, 103.94], np.float32)


def vgg_size(h, w, size):
    """slim vgg_preprocessing _smallest_size_at_least: float32 scale, rint.
    Its 256 for 224 px, scaled with the input size (pipeline.VGGResizeRange)."""
    k = np.float32(max((256 * size + 112) // 224, size)) / np.float32(min(h, w))
    return max(int(np.rint(np.float32(h) * k)), size), max(int(np.rint(np.float32(w) * k)), size)


def jpeg_ratio(data, size, style):
    """pipeline.Preprocess.EvalJPEGScale of the libjpeg build: the largest d in
    8, 4, 2 such that the Eval source region is at least d times the size it
    is resized to (CMYK/YCCK, 4 components, stay at 1)."""
    if not data.startswith(b"\xff\xd8"):
        return 1
    h, w, c = (int(v) for v in tf.io.extract_jpeg_shape(data, output_type=tf.int32).numpy())
    if c == 4:
        return 1
    if style == "vgg":
        (oh, ow), (rh, rw) = vgg_size(h, w, size), (h, w)
    else:
        oh = ow = size
        rh = rw = min(h, w)
    for d in (8, 4, 2):
        if rw >= d * ow and rh >= d * oh:
            return d
    return 1


def reference_preprocess(data, size, style):
    """tlearn's evaluation preprocessing (pipeline/preprocess.go,
    pipeline/jpegscale.go) in TF ops: a JPEG at least twice the output size
    decodes at DCT scale 1/2, 1/4 or 1/8 (decode_jpeg ratio)."""
    ratio = jpeg_ratio(data, size, style)
    if ratio > 1:
        img = tf.io.decode_jpeg(data, channels=3, ratio=ratio)
    else:
        img = tf.io.decode_image(data, channels=3, expand_animations=False)
    h, w = int(img.shape[0]), int(img.shape[1])
    if style == "vgg":
        nh, nw = vgg_size(h, w, size)
        r = tf.image.resize(tf.cast(img, tf.float32)[None], [nh, nw], method="bilinear", antialias=True)[0]
        y, x = (nh - size) // 2, (nw - size) // 2
        out = r[y:y + size, x:x + size]
    else:
        s = min(h, w)
        y, x = (h - s) // 2, (w - s) // 2
        crop = tf.cast(img[y:y + s, x:x + s], tf.float32)
        out = tf.image.resize(crop[None], [size, size], method="bilinear", antialias=True)[0]
    return out.numpy() - VGG_MEANS


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--images", help="raw float32 NHWC file for serving_float")
    p.add_argument("--n", type=int)
    p.add_argument("--size", type=int)
    p.add_argument("--style", default="crop", choices=["crop", "vgg"], help="preprocessing of reference_classes")
    p.add_argument("--pixels-out", help="write the reference preprocessing of --encoded here (float32 NHWC)")
    p.add_argument("--encoded", nargs="*", default=[], help="image files for serving_default")
    a = p.parse_args()

    m = tf.saved_model.load(a.dir)
    out = {
        "signatures": sorted(m.signatures.keys()),
        "assets": sorted(os.path.basename(x.asset_path.numpy().decode()) for x in getattr(m, "asset_paths", [])),
    }
    fsig = m.signatures["serving_float"]
    size = a.size or int(fsig.structured_input_signature[1]["images"].shape[1])
    if a.images:
        x = np.fromfile(a.images, np.float32).reshape(a.n, size, size, 3)
        r = fsig(images=tf.constant(x))
        out["float_probabilities"] = r["probabilities"].numpy().tolist()
        out["float_classes"] = r["classes"].numpy().tolist()
    if a.encoded:
        data = [open(f, "rb").read() for f in a.encoded]
        r = m.signatures["serving_default"](image_bytes=tf.constant(data))
        out["bytes_probabilities"] = r["probabilities"].numpy().tolist()
        out["bytes_classes"] = r["classes"].numpy().tolist()
        ref = np.stack([reference_preprocess(d, size, a.style) for d in data]).astype(np.float32)
        if a.pixels_out:
            ref.tofile(a.pixels_out)
        out["reference_classes"] = fsig(images=tf.constant(ref))["classes"].numpy().tolist()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
