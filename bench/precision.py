#!/usr/bin/env python3
"""fp16 (TensorFlow's float16 emulation on this CPU, with tlearn's dynamic
loss scaling) against fp32: the same `tlearn train` command, seed and
steps on real MNIST digits (demo/mkdata), then the training loss and the
validation top-1 at the end of each, the steps fp16 skipped, and the time.
On a CPU fp16 is numerics only, never speed: the time column says what the
emulation costs, not what a GPU gains.

    precision.py [--arch resnet_mini] [--steps 400] [--out bench/out/precision] [--report bench/RESULTS-precision.md]
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def scalars(run_dir):
    import tensorflow as tf  # the reference venv's TensorFlow reads the event files
    out = {}
    for name in sorted(os.listdir(run_dir)):
        if not name.startswith("events.out.tfevents"):
            continue
        for e in tf.compat.v1.train.summary_iterator(os.path.join(run_dir, name)):
            for v in e.summary.value:
                out.setdefault(v.tag, []).append((e.step, v.simple_value))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--arch", default="resnet_mini")
    ap.add_argument("--out", default=os.path.join(HERE, "out", "precision"))
    ap.add_argument("--report", default=os.path.join(HERE, "RESULTS-precision.md"))
    ap.add_argument("--tlearn", default=os.path.join(ROOT, "bin", "tlearn"))
    a = ap.parse_args()
    data = os.path.join(a.out, "data")
    if not os.path.isdir(os.path.join(data, "pretrain")):
        subprocess.run(["go", "run", "./demo/mkdata", "-out", data, "-pretrain", "300"], cwd=ROOT, check=True)
    rows = []
    for prec in ["fp32", "fp16"]:
        run_dir = os.path.join(a.out, prec)
        subprocess.run(["rm", "-rf", run_dir], check=True)
        cmd = [a.tlearn, "train", "--arch", a.arch, "--input-size", "32", "--weights", "none",
               "--data", os.path.join(data, "pretrain"), "--out", run_dir, "--steps", str(a.steps),
               "--batch", "32", "--lr", "0.001", "--dropout-keep", "1", "--seed", "1",
               "--log-every", "10", "--eval-every", str(a.steps), "--precision", prec]
        t0 = time.time()
        p = subprocess.run(cmd, capture_output=True, text=True)
        secs = time.time() - t0
        if p.returncode != 0:
            sys.exit(f"precision bench: {' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
        s = scalars(run_dir)
        last = lambda tag: s[tag][-1][1] if tag in s else float("nan")
        # The mean of the last five logged losses smooths one batch's noise.
        losses = [v for _, v in s["loss"][-5:]]
        skipped = sum(v for _, v in s.get("skipped_steps", []))
        rows.append((prec, sum(losses) / len(losses), last("val/top1"), int(skipped), last("loss_scale"), secs))
    lines = ["# fp16 emulation vs fp32 (bench/precision.py)", "",
             f"{a.arch} at 32 px from scratch on real MNIST digits 0-4 (demo/mkdata), batch 32, {a.steps} steps, "
             "seed 1, dropout off; fp16 is TensorFlow's float16 emulation on this CPU (auto_mixed_precision_cpu) "
             "with tlearn's dynamic loss scaling.", "",
             "| precision | loss (mean of last 5 logs) | val top-1 | skipped steps | final loss scale | wall time |",
             "|---|---|---|---|---|---|"]
    for prec, loss, top1, skipped, scale, secs in rows:
        sc = "—" if prec == "fp32" else f"{scale:g}"
        sk = "—" if prec == "fp32" else str(skipped)
        lines.append(f"| {prec} | {loss:.4f} | {top1:.3f} | {sk} | {sc} | {secs:.0f} s |")
    r32, r16 = rows
    lines += ["", f"fp16/fp32: loss {r16[1] / r32[1]:.3f}×, top-1 {r16[2] - r32[2]:+.3f}, time {r16[5] / r32[5]:.2f}×."]
    os.makedirs(os.path.dirname(a.report) or ".", exist_ok=True)
    with open(a.report, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
