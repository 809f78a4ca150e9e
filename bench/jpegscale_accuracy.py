#!/usr/bin/env python3
"""Validation accuracy with and without DCT-scaled JPEG decoding (issue 14 item 1).

Two steps:

  gen PHOTO... --out DIR   build a classification set from real photos: one
                           class per photo (a scene), many random crops per photo
                           re-encoded as JPEG q90; training crops come from the
                           left 60 % of the photo, validation crops from the right
                           35 % (a 5 % gap between), so no validation pixel was
                           seen in training. Layout DIR/train/CLASS/*.jpg and
                           DIR/val/CLASS/*.jpg (tlearn's train/ + val/ folders).
  compare A.jsonl B.jsonl  per-image agreement of two `tlearn predict --format
                           jsonl` runs over DIR/val (A: --jpeg-scale auto, B:
                           --jpeg-scale full), top-1 of each against the folder
                           label, broken down by the DCT scale the libjpeg build
                           picks for each file at --input-size.

Crops: a random rectangle of aspect 1, 4:3, 3:4 or 3:2 whose shorter side is
25-50 % of the photo's shorter side, inside the split's region; resized with
PIL's Lanczos filter (antialiased) to a shorter side drawn uniformly from
192..768 px but never above the crop's own size (no upscaling: the JPEG keeps
the photo's real detail, which is what DCT scaling would lose). At a 96-px
input that spreads the files over scales 1/2 (shorter side 192-383), 1/4
(384-767) and 1/8 (768).

The photos used for bench/NOTES.md are the 14 real photographs among the
Debian bookworm wallpaper packages mate-backgrounds (1.26.0-1) and
lomiri-wallpapers-20.04 (20.04.0-2), unpacked with
`apt-get download PKG && dpkg-deb -x PKG.deb x/` (see NOTES.md for the list).
"""

import argparse
import json
import os
import random
import sys

from PIL import Image


def gen(args):
    rng = random.Random(args.seed)
    aspects = [(1, 1), (4, 3), (3, 4), (3, 2)]
    for path in args.photos:
        name = os.path.splitext(os.path.basename(path))[0]
        img = Image.open(path).convert("RGB")
        W, H = img.size
        short = min(W, H)
        regions = {"train": (0, int(0.60 * W)), "val": (int(0.65 * W), W)}
        counts = {"train": args.train, "val": args.val}
        for split, (x0, x1) in regions.items():
            d = os.path.join(args.out, split, name)
            os.makedirs(d, exist_ok=True)
            for i in range(counts[split]):
                ax, ay = rng.choice(aspects)
                s = rng.uniform(0.25, 0.50) * short  # crop's shorter side
                cw, ch = (s * ax / ay, s) if ax >= ay else (s, s * ay / ax)
                f = min(1.0, (x1 - x0) / cw, H / ch)  # fit the region
                cw, ch = max(1, int(cw * f)), max(1, int(ch * f))
                cx = rng.randint(x0, x1 - cw)
                cy = rng.randint(0, H - ch)
                crop = img.crop((cx, cy, cx + cw, cy + ch))
                target = min(rng.randint(192, 768), min(cw, ch))
                k = target / min(cw, ch)
                ow, oh = max(1, round(cw * k)), max(1, round(ch * k))
                crop = crop.resize((ow, oh), Image.LANCZOS)
                crop.save(os.path.join(d, f"{i:04d}.jpg"), quality=90)
        print(f"{name}: {W}x{H}", file=sys.stderr)


def dct_scale(w, h, size):
    """The libjpeg build's Eval scale for StyleCrop (pipeline.EvalJPEGScale)."""
    r = min(w, h)
    for d in (8, 4, 2):
        if r >= d * size:
            return d
    return 1


def read_preds(path):
    out = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if "error" in r:
                continue
            p = r["predictions"][0]
            out[os.path.normpath(r["path"])] = p["label"]
    return out


def compare(args):
    a, b = read_preds(args.a), read_preds(args.b)
    keys = sorted(set(a) & set(b))
    rows = {}
    for k in keys:
        with Image.open(k) as im:
            d = dct_scale(im.size[0], im.size[1], args.input_size)
        label = os.path.basename(os.path.dirname(k))
        r = rows.setdefault(d, [0, 0, 0, 0])
        r[0] += 1
        r[1] += a[k] == label
        r[2] += b[k] == label
        r[3] += a[k] == b[k]
    tot = [sum(r[i] for r in rows.values()) for i in range(4)]
    print("| scale | images | top-1 DCT-scaled (auto) | top-1 full-scale | agreement |")
    print("|---|---|---|---|---|")
    for d in sorted(rows):
        n, ca, cb, ag = rows[d]
        print(f"| 1/{d} | {n} | {ca / n:.4f} | {cb / n:.4f} | {ag / n:.4f} ({n - ag} differ) |")
    n, ca, cb, ag = tot
    print(f"| all | {n} | {ca / n:.4f} | {cb / n:.4f} | {ag / n:.4f} ({n - ag} differ) |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("photos", nargs="+")
    g.add_argument("--out", required=True)
    g.add_argument("--train", type=int, default=60, help="training crops per photo")
    g.add_argument("--val", type=int, default=24, help="validation crops per photo")
    g.add_argument("--seed", type=int, default=14)
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--input-size", type=int, default=96)
    args = ap.parse_args()
    gen(args) if args.cmd == "gen" else compare(args)


if __name__ == "__main__":
    main()
