#!/usr/bin/env python3
"""Generates the benchmark's Food-101-like folder: one sub-folder per class,
JPEGs with a 512 px long side at quality 90, photo-like content (the pipeline
benchmark's generator, bench/pipeline/side_by_side.py:photo, so decode costs
match), plus a class-dependent tint so that the classes differ.

    gendata.py DIR --classes 6 --per-class 50
Idempotent: existing files are kept.
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "pipeline"))
from side_by_side import photo  # noqa: E402

CLASSES = ["apple_pie", "baby_back_ribs", "baklava", "beef_carpaccio", "beef_tartare", "beet_salad",
           "beignets", "bibimbap", "bread_pudding", "breakfast_burrito", "bruschetta", "caesar_salad"]
SHAPES = [(512, 384), (384, 512), (512, 512), (512, 341), (512, 288)]


def generate(root, classes, per_class):
    paths = []
    for c in range(classes):
        d = os.path.join(root, CLASSES[c % len(CLASSES)] + ("" if c < len(CLASSES) else f"_{c}"))
        os.makedirs(d, exist_ok=True)
        tint = np.array([(c * 37) % 60, (c * 53) % 60, (c * 71) % 60], np.int16) - 30
        for i in range(per_class):
            p = os.path.join(d, f"{c * 100000 + i:06d}.jpg")
            paths.append(p)
            if os.path.exists(p):
                continue
            w, h = SHAPES[(i + c) % len(SHAPES)]
            a = np.clip(photo(w, h, c * 100000 + i).astype(np.int16) + tint, 0, 255).astype(np.uint8)
            Image.fromarray(a).save(p + ".tmp", format="JPEG", quality=90)
            os.replace(p + ".tmp", p)
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--classes", type=int, default=6)
    ap.add_argument("--per-class", type=int, default=50)
    a = ap.parse_args()
    paths = generate(a.dir, a.classes, a.per_class)
    print(f"{len(paths)} JPEGs in {a.classes} classes under {a.dir}")


if __name__ == "__main__":
    main()
