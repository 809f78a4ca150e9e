#!/usr/bin/env python3
"""The fine-tuning recipe measured: tlearn's classic defaults against the
newer options (issue 13), fine-tuned from a pretrained body on real images.

The body: vgg_mini (or --arch) trained from scratch on MNIST digits 0-4
(demo/mkdata, the Go module GoMNIST's real digits); the task: digits 5-9
from --shots labelled examples per class, validated on 100 held-out
digits per class. Each recipe runs with --seeds seeds; the report gives the
validation top-1 (mean, min–max), its loss and the wall time.

With --task photos the body is trained from scratch on crops of
scikit-image's ten photos (bench/photosets.py, 64 per photo) and the task
is telling apart crops of twelve other photos (Debian's mate-backgrounds)
from --shots crops each, validated on 20 other crops per photo.

    recipe.py [--task mnist|photos] [--arch vgg_mini] [--shots 20] [--steps 300] [--seeds 3] [--recipes default,modern,...]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import photosets

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

RECIPES = {
    "default": [],
    "head-first": ["--head-epochs", "2"],
    "body-lr-0.1": ["--body-lr-mult", "0.1"],
    "smoothing": ["--label-smoothing", "0.1"],
    "ema": ["--ema", "0.99"],
    "cosine+warmup": ["--schedule", "cosine", "--warmup-epochs", "1"],
    "adamw": ["--optimizer", "adamw", "--weight-decay", "0.05"],
    "flip": ["--augment", "flip"],
    "inception": ["--augment", "inception"],
}


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"recipe bench: {' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    return p


def photo_task(data, shots):
    """data/pretrain: crops of scikit-image's photos; data/finetune/{train,val}:
    shots and 20 crops of each mate-backgrounds photo."""
    cache = os.path.join(ROOT, ".cache", "photos")
    photosets.build(photosets.fetch_skimage(cache), os.path.join(data, "pretrain"), 64, 1)
    allc = os.path.join(data, "finetune-all")
    photosets.build(photosets.fetch_mate(cache), allc, shots + 20, 2)
    for cls in sorted(os.listdir(allc)):
        files = sorted(os.listdir(os.path.join(allc, cls)))
        for split, part in (("train", files[:shots]), ("val", files[shots:])):
            os.makedirs(os.path.join(data, "finetune", split, cls), exist_ok=True)
            for f in part:
                os.replace(os.path.join(allc, cls, f), os.path.join(data, "finetune", split, cls, f))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=["mnist", "photos"], default="mnist")
    ap.add_argument("--arch", default="vgg_mini")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--shots", type=int, default=20)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--recipes", default=",".join(RECIPES))
    ap.add_argument("--extra", action="append", default=[], help="NAME=FLAGS: another recipe, e.g. 'mix=--ema 0.99 --label-smoothing 0.1'")
    ap.add_argument("--out", default=os.path.join(HERE, "out", "recipe"))
    ap.add_argument("--report", help="default: bench/RESULTS-recipe.md (mnist), bench/RESULTS-recipe-photos.md")
    ap.add_argument("--tlearn", default=os.path.join(ROOT, "bin", "tlearn"))
    a = ap.parse_args()
    a.report = a.report or os.path.join(HERE, "RESULTS-recipe.md" if a.task == "mnist" else "RESULTS-recipe-photos.md")
    recipes = dict(RECIPES)
    for e in a.extra:
        name, flags = e.split("=", 1)
        recipes[name] = flags.split()
    data = os.path.join(a.out, "data" if a.task == "mnist" else "data-photos")
    if not os.path.isdir(os.path.join(data, "finetune")):
        if a.task == "mnist":
            run(["go", "run", "./demo/mkdata", "-out", data, "-shots", str(a.shots), "-pretrain", "400"])
        else:
            photo_task(data, a.shots)
    common = ["--arch", a.arch, "--input-size", str(a.size), "--log-every", "50"]
    base = os.path.join(a.out, f"base-{a.task}-{a.arch}")
    if not os.path.exists(os.path.join(base, "config.json")):
        t0 = time.time()
        run([a.tlearn, "train", *common, "--data", os.path.join(data, "pretrain"), "--out", base, "--weights", "none",
             "--epochs", "6", "--batch", "32", "--lr", "0.001", "--lr-end", "0.0001", "--eval-every", "10000"])
        print(f"pretrained {base} in {time.time() - t0:.0f} s", flush=True)
    rows = []
    for name in a.recipes.split(","):
        tops, losses, secs = [], [], []
        for seed in range(1, a.seeds + 1):
            out = os.path.join(a.out, f"{name}-{seed}")
            subprocess.run(["rm", "-rf", out], check=True)
            t0 = time.time()
            run([a.tlearn, "train", *common, "--data", os.path.join(data, "finetune"), "--out", out, "--weights", base,
                 "--steps", str(a.steps), "--batch", "10", "--eval-every", str(a.steps), "--seed", str(seed), *recipes[name]])
            secs.append(time.time() - t0)
            ev = json.loads(run([a.tlearn, "eval", "--model", out, "--checkpoint", "latest",
                                 "--data", os.path.join(data, "finetune", "val"), "--format", "json"]).stdout)
            tops.append(ev["top1"])
            print(f"{name} seed {seed}: top-1 {ev['top1']:.3f} ({secs[-1]:.0f} s)", flush=True)
        rows.append((name, " ".join(recipes[name]) or "(tlearn's defaults)", tops, statistics.mean(secs)))
    if a.task == "mnist":
        what = (f"{a.arch} at {a.size} px pretrained on real MNIST digits 0-4 (400 per class, 6 epochs), fine-tuned for "
                f"{a.steps} steps (batch 10) on digits 5-9 from {a.shots} labelled examples per class, evaluated on 100 "
                f"held-out digits per class (the latest checkpoint); {a.seeds} seeds each.")
    else:
        what = (f"{a.arch} at {a.size} px pretrained from scratch on crops of scikit-image's 10 photos (64 per photo, "
                f"6 epochs), fine-tuned for {a.steps} steps (batch 10) on crops of 12 other photos (Debian's "
                f"mate-backgrounds) from {a.shots} crops per photo, evaluated on 20 other crops per photo (the latest "
                f"checkpoint); {a.seeds} seeds each.")
    lines = [f"# Fine-tuning recipes (bench/recipe.py --task {a.task})", "", what, "",
             "| recipe | flags | val top-1 mean | min–max | time per run |", "|---|---|---|---|---|"]
    for name, flags, tops, sec in rows:
        lines.append(f"| {name} | `{flags}` | {statistics.mean(tops):.3f} | {min(tops):.3f}–{max(tops):.3f} | {sec:.0f} s |")
    with open(a.report, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
