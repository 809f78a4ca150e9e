#!/usr/bin/env python3
"""Side-by-side input-pipeline throughput: tlearn's Go pipeline vs tf.data
(TensorFlow's decode_jpeg) vs PIL + torchvision (a DataLoader), on the same
generated JPEGs (Food-101-like: 512 px long side, quality 90), the same
training preprocessing (random square crop of side min(h,w)-20, horizontal
flip, antialiased bilinear resize to 224, float32 minus the VGG means, batches
of 64) and the same number of workers.

Not a test: numbers depend on the machine and its load. Usage, from the
repository root:

    .cache/pyenv/bin/python bench/pipeline/side_by_side.py [--images 512] [--workers 1,2]

PIL + torchvision runs only when torch and torchvision are importable
(pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu);
otherwise a PIL + NumPy multiprocessing pool doing the same work stands in
for it. Images go to bench/data/pipeline (git-ignored).
"""
import argparse
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import time

import numpy as np
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MEANS = np.array([123.68, 116.78, 103.94], np.float32)
SIZE, MARGIN, BATCH = 224, 10, 64


def photo(w, h, seed):
    """Photo-like content: gradients, edges, texture and sensor noise, so
    that JPEG entropy (and decode cost) resembles real food photos."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    fx, fy = 5 + rng.random() * 10, 7 + rng.random() * 10
    t = 20 * np.sin(x * y / 900)
    n = rng.normal(0, 5, (h, w)).astype(np.float32)
    r = 128 + 100 * np.sin(x / fx) * np.cos(y / fy) + n + t
    g = 128 + 90 * np.cos((x + y) / (fx + fy)) + n
    b = 255 * x / w * y / h + n - t
    a = np.stack([r, g, b], -1)
    a[(x - w / 3) ** 2 + (y - h / 2) ** 2 < 90**2] = (240, 200, 30)
    return np.clip(a, 0, 255).astype(np.uint8)


SETS = {
    # Food-101: long side 512, the usual aspect ratios.
    "food": [(512, 384), (384, 512), (512, 512), (512, 341), (512, 288)],
    # 12 MP phone photos, landscape and portrait.
    "12mp": [(4032, 3024), (3024, 4032)],
}


def generate(dirname, count, shapes):
    os.makedirs(dirname, exist_ok=True)
    have = [f for f in os.listdir(dirname) if f.endswith(".jpg")]
    if len(have) >= count:
        return sorted(os.path.join(dirname, f) for f in have)[:count]
    paths = []
    for i in range(count):
        w, h = shapes[i % len(shapes)]
        p = os.path.join(dirname, f"{i:05d}.jpg")
        Image.fromarray(photo(w, h, i)).save(p, quality=90)
        paths.append(p)
    return paths


def report(name, workers, n, sec, cpu):
    return {"name": name, "workers": workers, "images": n, "seconds": sec,
            "images_per_s": n / sec, "images_per_s_per_worker": n / sec / workers,
            "cpu_seconds": cpu, "images_per_cpu_s": n / cpu}


def cpu_now():
    """CPU seconds of this process and its finished (waited-for) children."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


# ---- tlearn ----

def bench_go(dirname, workers, libjpeg):
    """libjpeg: build with -tags libjpeg (cgo + system libjpeg-turbo)."""
    exe = os.path.join(ROOT, "bin", "pipeline-gobench" + ("-libjpeg" if libjpeg else ""))
    cmd = ["go", "build", "-o", exe] + (["-tags", "libjpeg"] if libjpeg else []) + ["./bench/pipeline/gobench"]
    subprocess.run(cmd, cwd=ROOT, check=True, env={**os.environ, "CGO_ENABLED": "1" if libjpeg else "0"})
    out = subprocess.run([exe, "-dir", dirname, "-workers", str(workers), "-batch", str(BATCH)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# ---- tf.data ----

def bench_tf(dirname, count, workers):
    """Runs in a fresh process: TF's thread pools are fixed at first use."""
    out = subprocess.run([sys.executable, __file__, "--child-tf", str(workers), "--dir", dirname,
                          "--images", str(count), "--batch", str(BATCH)], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_tf_child(paths, workers):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(workers)
    tf.config.threading.set_intra_op_parallelism_threads(1)

    def load(path):
        # decode_and_crop_jpeg decodes only the crop window (libjpeg-turbo's
        # jpeg_crop_scanline / skip_scanlines), TF's fastest training path.
        data = tf.io.read_file(path)
        shape = tf.io.extract_jpeg_shape(data)
        s = tf.minimum(shape[0], shape[1]) - 2 * MARGIN
        y0 = tf.random.uniform([], 0, shape[0] - s + 1, tf.int32)
        x0 = tf.random.uniform([], 0, shape[1] - s + 1, tf.int32)
        crop = tf.io.decode_and_crop_jpeg(data, tf.stack([y0, x0, s, s]), channels=3)
        crop = tf.image.random_flip_left_right(crop)
        x = tf.image.resize(crop[None], [SIZE, SIZE], method="bilinear", antialias=True)[0]
        return x - MEANS

    opts = tf.data.Options()
    opts.threading.private_threadpool_size = workers
    opts.threading.max_intra_op_parallelism = 1
    ds = (tf.data.Dataset.from_tensor_slices(paths).shuffle(len(paths))
          .map(load, num_parallel_calls=tf.data.AUTOTUNE).batch(BATCH, drop_remainder=True)
          .prefetch(tf.data.AUTOTUNE).with_options(opts))

    def epoch():
        n = 0
        for b in ds:
            n += int(b.shape[0])
        return n

    epoch()  # warm-up: tracing, page cache
    cpu0, start = cpu_now(), time.perf_counter()
    n = epoch() + epoch()
    return report("tf.data + decode_and_crop_jpeg", workers, n, time.perf_counter() - start, cpu_now() - cpu0)


# ---- PIL (+ torchvision) ----

def pil_sample(path, rng):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = min(w, h) - 2 * MARGIN
    x0, y0 = rng.integers(0, w - s + 1), rng.integers(0, h - s + 1)
    img = img.crop((x0, y0, x0 + s, y0 + s))
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    img = img.resize((SIZE, SIZE), Image.Resampling.BILINEAR)  # PIL's bilinear is antialiased
    return np.asarray(img, np.float32) - MEANS


def _pil_batch(args):
    paths, seed = args
    rng = np.random.default_rng(seed)
    return np.stack([pil_sample(p, rng) for p in paths]).shape[0]


def bench_pil_numpy(paths, workers):
    batches = [(paths[i:i + BATCH], i) for i in range(0, len(paths) - BATCH + 1, BATCH)]
    with mp.Pool(workers) as pool:
        sum(pool.map(_pil_batch, batches))  # warm-up: page cache
    # A fresh pool, joined before reading the children's CPU time.
    cpu0, start = cpu_now(), time.perf_counter()
    pool = mp.Pool(workers)
    n = sum(pool.map(_pil_batch, batches)) + sum(pool.map(_pil_batch, batches))
    pool.close()
    pool.join()
    return report("PIL + NumPy (multiprocessing)", workers, n, time.perf_counter() - start, cpu_now() - cpu0)


def bench_torch(paths, workers):
    import torch
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    torch.set_num_threads(1)

    class Crop:
        def __call__(self, img):
            w, h = img.size
            return transforms.RandomCrop(min(w, h) - 2 * MARGIN)(img)

    tf_ = transforms.Compose([
        Crop(), transforms.RandomHorizontalFlip(),
        transforms.Resize((SIZE, SIZE), interpolation=transforms.InterpolationMode.BILINEAR, antialias=True),
        transforms.PILToTensor(), transforms.ConvertImageDtype(torch.float32),
        transforms.Normalize(mean=(MEANS / 255).tolist(), std=[1 / 255] * 3),
    ])

    class DS(Dataset):
        def __len__(self):
            return len(paths)

        def __getitem__(self, i):
            return tf_(Image.open(paths[i]).convert("RGB")), 0

    # Workers are not persistent, so they exit (and are waited for) at the end
    # of each epoch and their CPU time is counted.
    dl = DataLoader(DS(), batch_size=BATCH, shuffle=True, num_workers=workers, drop_last=True,
                    prefetch_factor=2)

    def epoch():
        return sum(x.shape[0] for x, _ in dl)

    epoch()  # warm-up: page cache, imports in the workers
    cpu0, start = cpu_now(), time.perf_counter()
    n = epoch() + epoch()
    return report("PIL + torchvision DataLoader", workers, n, time.perf_counter() - start, cpu_now() - cpu0)


def main():
    global BATCH
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--workers", default=",".join(str(w) for w in sorted({1, os.cpu_count()})))
    ap.add_argument("--set", default="food", choices=sorted(SETS), help="image sizes: food (512 px) or 12mp")
    ap.add_argument("--dir", help="image folder (default bench/data/pipeline[-12mp])")
    ap.add_argument("--reps", type=int, default=1,
                    help="repeat the whole comparison, rotating the order of the pipelines each time")
    ap.add_argument("--only", default="go,golibjpeg,tf,pil",
                    help="comma list of go (pure Go), golibjpeg (-tags libjpeg), tf, pil")
    ap.add_argument("--batch", type=int, default=BATCH, help="batch size (64; fewer for a small 12 MP set)")
    ap.add_argument("--child-tf", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    BATCH = args.batch
    if not args.dir:
        args.dir = os.path.join(ROOT, "bench", "data", "pipeline" + ("" if args.set == "food" else "-" + args.set))
    paths = generate(args.dir, args.images, SETS[args.set])
    if args.child_tf:
        print(json.dumps(bench_tf_child(paths, args.child_tf)))
        return
    sizes = [os.path.getsize(p) for p in paths]
    print(f"# {len(paths)} JPEGs in {args.dir}, mean {np.mean(sizes) / 1024:.0f} KiB, {os.cpu_count()} CPUs", flush=True)
    try:
        import torchvision  # noqa: F401
        pil = bench_torch
    except ImportError:
        pil = bench_pil_numpy
    runners = {"go": lambda w: bench_go(args.dir, w, False), "golibjpeg": lambda w: bench_go(args.dir, w, True), "tf": lambda w: bench_tf(args.dir, args.images, w), "pil": lambda w: pil(paths, w)}
    results = []
    keys = args.only.split(",")
    for rep in range(args.reps):
        order = keys[rep % len(keys):] + keys[:rep % len(keys)]
        for w in [int(x) for x in args.workers.split(",")]:
            for key in order:
                r = runners[key](w)
                r["rep"] = rep + 1
                results.append(r)
                print(json.dumps(r), flush=True)
    print(f"\n{'rep':>3} {'pipeline':34} {'workers':>7} {'images/s':>9} {'per worker':>10} {'per CPU-s':>10} {'vs tf.data':>10}")
    for r in results:
        tf_ = [x for x in results if x["rep"] == r["rep"] and x["workers"] == r["workers"] and x["name"].startswith("tf.data")]
        ratio = f"{r['images_per_cpu_s'] / tf_[0]['images_per_cpu_s']:.2f}x" if tf_ else "-"
        print(f"{r['rep']:>3} {r['name']:34} {r['workers']:>7} {r['images_per_s']:>9.1f} {r['images_per_s_per_worker']:>10.1f}"
              f" {r['images_per_cpu_s']:>10.1f} {ratio:>10}")


if __name__ == "__main__":
    sys.exit(main())
