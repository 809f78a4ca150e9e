#!/usr/bin/env python3
"""Builds small image folders from real photos that package registries ship,
for the from-scratch stability sweep (bench/stability.sh) and other
measurements that need real photos rather than generated images.

Sources (downloaded once into --cache):
  skimage  scikit-image's wheel (PyPI) bundles ~10 photos (astronaut, cat,
           coffee, rocket, motorcycle, camera man, stained tissue, ...).
  mate     Debian's mate-backgrounds package: 12 nature photos
           (/usr/share/backgrounds/mate/nature).

Each set is an image folder (one sub-folder per class). A class is one
source photo; its images are random crops (area 15-100 % of the photo,
aspect 3/4-4/3), flipped at random, resized so the longer side is 320 px,
saved as JPEG quality 90. The task is easy (tell the photos apart from a
crop), which is not the point: the pixels are real photos, with their
statistics, which is what a network's numerical stability depends on.
"""
import argparse
import glob
import os
import random
import subprocess
import sys
import zipfile

from PIL import Image

SKIMAGE = "scikit-image==0.26.0"
SKIMAGE_PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "camera.png", "ihc.png",
                  "hubble_deep_field.jpg", "retina.jpg", "motorcycle_right.png"]


def fetch_skimage(cache):
    out = os.path.join(cache, "skimage")
    if os.path.isdir(out) and len(os.listdir(out)) >= len(SKIMAGE_PHOTOS):
        return out
    os.makedirs(out, exist_ok=True)
    wheels = os.path.join(cache, "wheels")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.11", "-d", wheels, SKIMAGE], check=True, stdout=subprocess.DEVNULL)
    whl = glob.glob(os.path.join(wheels, "scikit_image-*.whl"))[0]
    with zipfile.ZipFile(whl) as z:
        for name in SKIMAGE_PHOTOS:
            with open(os.path.join(out, name), "wb") as f:
                f.write(z.read("skimage/data/" + name))
    return out


def fetch_mate(cache):
    out = os.path.join(cache, "mate")
    if os.path.isdir(out) and os.listdir(out):
        return out
    debs = os.path.join(cache, "debs")
    os.makedirs(debs, exist_ok=True)
    subprocess.run(["apt-get", "download", "mate-backgrounds"], cwd=debs, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deb = glob.glob(os.path.join(debs, "mate-backgrounds_*.deb"))[0]
    x = os.path.join(debs, "x")
    subprocess.run(["dpkg-deb", "-x", deb, x], check=True)
    os.makedirs(out, exist_ok=True)
    for p in sorted(glob.glob(os.path.join(x, "usr/share/backgrounds/mate/nature/*.jpg"))):
        os.replace(p, os.path.join(out, os.path.basename(p)))
    return out


def build(photos, dest, per_class, seed):
    rng = random.Random(seed)
    for path in sorted(glob.glob(os.path.join(photos, "*"))):
        cls = os.path.splitext(os.path.basename(path))[0]
        img = Image.open(path).convert("RGB")
        W, H = img.size
        os.makedirs(os.path.join(dest, cls), exist_ok=True)
        for i in range(per_class):
            for _ in range(100):
                area = rng.uniform(0.15, 1) * W * H
                aspect = rng.uniform(3 / 4, 4 / 3)
                w, h = int(round((area * aspect) ** 0.5)), int(round((area / aspect) ** 0.5))
                if w <= W and h <= H:
                    break
            else:
                w, h = W, H
            x, y = rng.randint(0, W - w), rng.randint(0, H - h)
            crop = img.crop((x, y, x + w, y + h))
            if rng.random() < 0.5:
                crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
            s = 320 / max(w, h)
            crop = crop.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
            crop.save(os.path.join(dest, cls, f"{i:03d}.jpg"), quality=90)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default=".cache/photos", help="where the downloads are kept")
    ap.add_argument("--out", required=True, help="folder to write the sets into (<out>/skimage, <out>/mate)")
    ap.add_argument("--per-class", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    for name, fetch in [("skimage", fetch_skimage), ("mate", fetch_mate)]:
        dest = os.path.join(a.out, name)
        if os.path.isdir(dest):
            print(f"{dest}: exists, kept")
            continue
        build(fetch(a.cache), dest, a.per_class, a.seed)
        print(f"{dest}: {len(os.listdir(dest))} classes × {a.per_class} photos")


if __name__ == "__main__":
    main()
