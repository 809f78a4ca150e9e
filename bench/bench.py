#!/usr/bin/env python3
"""`make bench`: tlearn side by side with Keras and PyTorch, on the same
generated JPEGs, networks, preprocessing, batch size and threads, as ratios.

For each configuration (VGG19 at 224; tlearn's vgg_mini at 64, the reduced
input size — tfgraph's vgg_19 only accepts 224..255 px because fc6 is a 7×7
VALID conv; resnet_v1_50 and mobilenet_v2 at 224 and inception_v3 at 299
against Keras applications' ResNet50, MobileNetV2 and InceptionV3 and
torchvision's nets, weights=None), each repetition runs the three tools one after the other
(interleaved, so that load from other processes on the machine hits them
alike), each task in a fresh process:

  train    W warm-up + M timed steps at batch 16, from the JPEG files; images/s
           = M·16 / (time of step W+M − time of step W)
  predict  the whole folder, batch 16, from a model the train task saved:
           cold start = process start → first prediction line on stdout;
           throughput = (N − first batch) / (last line − first line)
  memory   peak resident set of the process tree (sampled every 0.1 s, worker
           processes included) of each train and predict process

and the input pipeline alone comes from bench/pipeline/side_by_side.py (the
pipeline's own side-by-side script: Go vs tf.data vs PIL+torchvision).

Writes bench/out/results.json and bench/RESULTS.md (medians with min–max and
ratios; bench/NOTES.md, the hand-written analysis, is appended). --smoke:
a few images, one step, every configuration but VGG19 at a small input
(SMOKE_SIZE), no timing claims; writes under bench/out/smoke. A
configuration whose net tlearn does not have yet is skipped with a message. A tool that is not installed is skipped with a message.
"""
import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = sys.executable
TLEARN = os.path.join(ROOT, "bin", "tlearn")
TOOLS = ["tlearn", "keras", "torch"]
CONFIGS = {  # name: (tlearn arch, competitors' arch, input size)
    "vgg19@224": ("vgg_19", "vgg19", 224),
    "mini@64": ("vgg_mini", "mini", 64),
    "resnet50@224": ("resnet_v1_50", "resnet50", 224),
    "mobilenetv2@224": ("mobilenet_v2", "mobilenet_v2", 224),
    "inception3@299": ("inception_v3", "inception_v3", 299),
}
# Input size of each configuration in --smoke (the smallest that all three
# tools build: tlearn's inception_v3 needs 107 px), so CI builds every row's
# networks without the cost of the real sizes.
SMOKE_SIZE = {"vgg19@224": 224, "mini@64": 32, "resnet50@224": 32, "mobilenetv2@224": 32, "inception3@299": 107}
SMOKE_CONFIGS = "mini@64,resnet50@224,mobilenetv2@224,inception3@299"
# Default training warm-up and timed steps per configuration: a VGG19 step
# takes seconds, a vgg_mini step ~35 ms, so 3 of those are too short a window
# for a steady rate.
STEPS = {"vgg19@224": (2, 3), "mini@64": (10, 40), "resnet50@224": (2, 4), "mobilenetv2@224": (3, 8),
         "inception3@299": (2, 3)}
# Nets PyTorch has (torchvision); the others are skipped for it.
TORCH_ARCHS = {"vgg19", "mini", "resnet50", "mobilenet_v2", "inception_v3"}


def config(cfg, a):
    """(tlearn arch, competitors' arch, input size) of cfg, the size reduced in --smoke."""
    arch_t, arch_c, size = CONFIGS[cfg]
    return arch_t, arch_c, (SMOKE_SIZE.get(cfg, size) if a.smoke else size)


def tlearn_archs():
    """The --arch names bin/tlearn knows (from train --help), so that a net
    not yet in tfgraph/nets skips its row instead of failing the run."""
    p = subprocess.run([TLEARN, "train", "--help"], capture_output=True, text=True)
    m = re.search(r"--arch value\s+network: ([^(]*)", p.stdout)
    return {n.strip() for n in m.group(1).split(",")} if m else set()


def train_steps(cfg, a):
    """(warm-up, timed) training steps for cfg: --warmup/--steps, else STEPS."""
    w, s = STEPS.get(cfg, (2, 3))
    return (a.warmup if a.warmup is not None else w), (a.steps if a.steps is not None else s)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes


def tree_rss(proc):
    try:
        ps = [proc] + proc.children(recursive=True)
    except Exception:
        return 0
    total = 0
    for p in ps:
        try:
            total += p.memory_info().rss
        except Exception:
            pass
    return total


def run(cmd, env=None, stderr_path=None):
    """Runs cmd; returns (lines [(t, text)], rc, peak tree RSS bytes, seconds).
    t is seconds since the process was started."""
    import psutil
    errf = open(stderr_path or os.devnull, "w")
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, env={**os.environ, **(env or {})},
                         text=True, bufsize=1, cwd=ROOT)
    peak = [0]
    done = threading.Event()

    def sample():
        try:
            pp = psutil.Process(p.pid)
        except Exception:
            return
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(pp))
            done.wait(0.1)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    lines = []
    for line in p.stdout:
        lines.append((time.perf_counter() - start, line.rstrip("\n")))
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    th.join()
    errf.close()
    # ru_maxrss (KiB) of the main process: a floor when sampling missed a short peak.
    return lines, p.returncode, max(peak[0], ru.ru_maxrss * 1024), time.perf_counter() - start


def tail(path, n=15):
    try:
        with open(path) as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


# ---------------------------------------------------------------- tasks

STEP_RE = re.compile(r'^time=(\S+) level=INFO msg=step step=(\d+) ')


def parse_slog_time(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def train(tool, cfg, a, out, data):
    arch_t, arch_c, size = config(cfg, a)
    warmup, steps = train_steps(cfg, a)
    want = warmup + steps
    err = os.path.join(out, "stderr.txt")
    if tool == "tlearn":
        run_dir = os.path.join(out, "run")
        shutil.rmtree(run_dir, ignore_errors=True)
        cmd = [TLEARN, "train", "--data", data, "--out", run_dir, "--arch", arch_t, "--input-size", str(size),
               "--weights", "none", "--batch", str(a.batch), "--steps", str(want), "--log-every", "1",
               "--threads", str(a.threads), "--workers", str(a.workers), "--val-split", str(a.val_split),
               "--eval-every", "1000000", "--save-every", "100000s", "--lr", "1e-6", "--seed", "1"]
        model = run_dir
    else:
        model = os.path.join(out, "model" + (".weights.h5" if tool == "keras" else ".pt"))
        cmd = [PY, os.path.join(HERE, "competitors.py"), tool, "train", "--data", data, "--arch", arch_c,
               "--size", str(size), "--batch", str(a.batch), "--warmup", str(warmup), "--steps", str(steps),
               "--threads", str(a.threads), "--workers", str(a.workers), "--save", model]
    lines, rc, rss, sec = run(cmd, stderr_path=err)
    if rc != 0:
        raise RuntimeError(f"{tool} train failed ({rc}): {' '.join(cmd)}\n{tail(err)}")
    times = {}
    if tool == "tlearn":
        with open(err) as f:
            for line in f:
                m = STEP_RE.match(line)
                if m:
                    times[int(m.group(2))] = parse_slog_time(m.group(1))
    else:
        for _, text in lines:
            if text.startswith("{"):
                d = json.loads(text)
                if "step" in d:
                    times[d["step"]] = d["t"]
    if want not in times or warmup not in times:
        raise RuntimeError(f"{tool} train: steps {warmup} and {want} not both logged: {sorted(times)}\n{tail(err)}")
    ips = steps * a.batch / (times[want] - times[warmup]) if steps else None
    return {"images_per_s": ips, "peak_rss": rss, "seconds": sec}, model


def predict(tool, cfg, a, out, data, model, n_images, conv="auto"):
    """conv is tlearn's --conv: auto (its default: Winograd for the wide 3×3
    convs on the CPU) or direct (TensorFlow's Conv2D, Keras's kernels)."""
    arch_t, arch_c, size = config(cfg, a)
    err = os.path.join(out, "stderr-predict" + ("" if conv == "auto" else "-" + conv) + ".txt")
    if tool == "tlearn":
        cmd = [TLEARN, "predict", "--model", model, "--batch", str(a.batch), "--threads", str(a.threads),
               "--workers", str(a.workers), "--format", "jsonl", "--top-k", "1", "--conv", conv, data]
    else:
        cmd = [PY, os.path.join(HERE, "competitors.py"), tool, "predict", "--data", data, "--arch", arch_c,
               "--size", str(size), "--batch", str(a.batch), "--threads", str(a.threads),
               "--workers", str(a.workers), "--weights", model]
    lines, rc, rss, sec = run(cmd, stderr_path=err)
    preds = [(t, s) for t, s in lines if s.startswith('{"path"')]
    if rc != 0 or len(preds) != n_images:
        raise RuntimeError(f"{tool} predict failed ({rc}, {len(preds)} of {n_images} predictions)\n{tail(err)}")
    first, last = preds[0][0], preds[-1][0]
    rest = n_images - min(a.batch, n_images)
    ips = rest / (last - first) if rest and last > first else None
    top1 = {}
    if tool == "tlearn":
        for _, text in preds:
            d = json.loads(text)
            top1[d["path"]] = d["predictions"][0]["label"] if d.get("predictions") else None
    return {"cold_start_s": first, "images_per_s": ips, "peak_rss": rss, "seconds": sec, "top1": top1}


def pipeline_alone(a, rep):
    """The pipeline's own side-by-side script (training preprocessing, batch 64)."""
    cmd = [PY, os.path.join(HERE, "pipeline", "side_by_side.py"), "--images", str(a.pipeline_images),
           "--workers", str(a.workers), "--only", "go,tf,pil"]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"pipeline bench failed:\n{p.stderr[-2000:]}")
    res = {}
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            d = json.loads(line)
            tool = "tlearn" if d["name"].startswith("tlearn") else "keras" if d["name"].startswith("tf.data") else "torch"
            res[tool] = {"images_per_s": d["images_per_s"], "name": d["name"]}
    return res


# ---------------------------------------------------------------- environment


def available(a):
    have = {}
    have["tlearn"] = None if os.access(TLEARN, os.X_OK) else f"{TLEARN} not built (make build)"
    for tool, mods in (("keras", "tensorflow"), ("torch", "torch, torchvision")):
        p = subprocess.run([PY, "-c", f"import {mods}"], capture_output=True, text=True)
        have[tool] = None if p.returncode == 0 else f"python cannot import {mods} (pip install -r bench/requirements.txt)"
    return {t: why for t, why in have.items() if t in a.tools}


def versions():
    v = {}
    try:
        info = json.loads(subprocess.run([TLEARN, "info", "--json"], capture_output=True, text=True).stdout)
        v["libtensorflow"] = info["tensorflow_version"]
        v["go"] = info["go_version"]
    except Exception:
        pass
    v["tlearn"] = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                                 text=True).stdout.strip()
    code = ("import json,sys\nr={'python':sys.version.split()[0]}\n"
            "for m in ['tensorflow','keras','torch','torchvision','numpy','PIL']:\n"
            "  try:\n    r[m]=__import__(m).__version__\n  except Exception: pass\nprint(json.dumps(r))")
    p = subprocess.run([PY, "-c", code], capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        v.update(json.loads(p.stdout.strip().splitlines()[-1]))
    except Exception:
        pass
    return v


def machine():
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem / 2**30, 1),
            "kernel": platform.release(), "load_at_start": os.getloadavg()}


# ---------------------------------------------------------------- report


def stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def fmt(s, unit="", scale=1.0, digits=1):
    if s is None:
        return "—"
    m, lo, hi = s["median"] / scale, s["min"] / scale, s["max"] / scale
    if s["n"] == 1:
        return f"{m:.{digits}f}{unit}"
    return f"{m:.{digits}f}{unit} ({lo:.{digits}f}–{hi:.{digits}f})"


def ratio(a, b):
    if a is None or b is None or not b["median"]:
        return "—"
    return f"{a['median'] / b['median']:.2f}×"


METRICS = [  # key, label, unit, scale, digits, goal vs Keras (text)
    ("train_ips", "training, images/s", "", 1, 2, "≥ 1.0×"),
    ("predict_ips", "inference, images/s", "", 1, 2, "≥ 1.2×"),
    ("predict_direct_ips", "inference, tlearn `--conv direct` (Keras's conv kernels), images/s", "", 1, 2, "—"),
    ("cold_start", "cold start (start → first prediction), s", "", 1, 2, "≤ 0.5×"),
    ("train_rss", "peak RSS, training, MiB", "", 2**20, 0, "≤ 1.0×"),
    ("predict_rss", "peak RSS, inference, MiB", "", 2**20, 0, "≤ 1.0×"),
]


PAIRED = {  # metric key: its value in one repetition's record
    "train_ips": lambda r: r["train"]["images_per_s"],
    "predict_ips": lambda r: r["predict"]["images_per_s"],
    "predict_direct_ips": lambda r: r.get("predict_direct", r["predict"])["images_per_s"],
    "cold_start": lambda r: r["predict"]["cold_start_s"],
    "train_rss": lambda r: r["train"]["peak_rss"],
    "predict_rss": lambda r: r["predict"]["peak_rss"],
}


def paired(m, key):
    xs = m.get("paired", {}).get(key) or []
    return ", ".join("—" if x is None else f"{x:.2f}" for x in xs) or "—"


def collect(raw):
    """raw[cfg][tool] = list of per-rep dicts → summary[cfg][metric][tool] = stats."""
    out = {}
    for cfg, tools in raw.items():
        if cfg == "pipeline":
            out[cfg] = {"pipeline_ips": {t: stats([r["images_per_s"] for r in reps]) for t, reps in tools.items()}}
            continue
        m = {k: {} for k, *_ in METRICS}
        for tool, reps in tools.items():
            m["train_ips"][tool] = stats([r["train"]["images_per_s"] for r in reps])
            m["train_rss"][tool] = stats([r["train"]["peak_rss"] for r in reps])
            m["predict_ips"][tool] = stats([r["predict"]["images_per_s"] for r in reps])
            direct = [r.get("predict_direct", r["predict"])["images_per_s"] for r in reps]
            if tool != "tlearn" or any("predict_direct" in r for r in reps):
                m["predict_direct_ips"][tool] = stats(direct)
            m["cold_start"][tool] = stats([r["predict"]["cold_start_s"] for r in reps])
            m["predict_rss"][tool] = stats([r["predict"]["peak_rss"] for r in reps])
        m["top1_agree"] = [r["predict_direct"]["top1_agree"] for r in tools.get("tlearn", []) if "predict_direct" in r]
        # tlearn/Keras within each repetition (the two ran back to back, so
        # the machine's load hits both alike): steadier than a ratio of
        # medians when other work comes and goes.
        m["paired"] = {}
        for key, get in PAIRED.items():
            pairs = zip(tools.get("tlearn", []), tools.get("keras", []))
            m["paired"][key] = [get(t) / get(k) if get(t) and get(k) else None for t, k in pairs]
        out[cfg] = m
    return out


def table(summary, tools):
    head = "| configuration | metric | " + " | ".join(tools) + " | tlearn/Keras | per repetition | tlearn/PyTorch | goal vs Keras |"
    rows = [head, "|" + "---|" * (len(tools) + 6)]
    for cfg, m in summary.items():
        if cfg == "pipeline":
            continue
        for key, label, unit, scale, digits, goal in METRICS:
            s = m[key]
            if key == "predict_direct_ips" and "tlearn" not in s:
                continue  # --direct off: no same-kernel figure to compare
            cells = [fmt(s.get(t), unit, scale, digits) for t in tools]
            rows.append(f"| {cfg} | {label} | " + " | ".join(cells) +
                        f" | {ratio(s.get('tlearn'), s.get('keras'))} | {paired(m, key)} | {ratio(s.get('tlearn'), s.get('torch'))} | {goal} |")
    if "pipeline" in summary:
        s = summary["pipeline"]["pipeline_ips"]
        cells = [fmt(s.get(t), "", 1, 0) for t in tools]
        rows.append("| input pipeline alone (224, batch 64) | images/s | " + " | ".join(cells) +
                    f" | {ratio(s.get('tlearn'), s.get('keras'))} | — | {ratio(s.get('tlearn'), s.get('torch'))} | — |")
    return "\n".join(rows)


def agreement(summary, n):
    parts = []
    for cfg, m in summary.items():
        if cfg != "pipeline" and m.get("top1_agree"):
            parts.append(f"{cfg}: " + ", ".join(str(x) for x in m["top1_agree"]))
    return ("; ".join(parts) + f" of the {n} images per repetition") if parts else "— (not measured)"


def write_report(path, a, summary, env, tools, skipped, elapsed):
    names = {"tlearn": "tlearn", "keras": "Keras", "torch": "PyTorch"}
    cmd = "make bench-smoke" if a.smoke else "make bench" + (f" BENCH_ARGS='{a.args_text}'" if a.args_text else "")
    lines = [
        "# tlearn vs Keras vs PyTorch" + (" (smoke run: no timing meaning)" if a.smoke else ""),
        "",
        f"Generated by `bench/bench.py` on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC in {elapsed / 60:.0f} min. "
        f"Reproduce: `{cmd}`.",
        "",
        f"Figures are medians of {a.reps} repetition(s) with (min–max); the three tools run interleaved in each "
        "repetition, in an order rotated from one repetition to the next, each task in a fresh process. Ratios are of medians; "
        "\"per repetition\" lists tlearn/Keras within each repetition (back-to-back runs: the steadier figure on a loaded machine). Higher is better for images/s, "
        "lower for seconds and memory.",
        "",
        table(summary, tools).replace("| tlearn | keras | torch |", "| tlearn | Keras | PyTorch |"),
        "",
        "## Set-up",
        "",
        f"- Machine: {env['machine']['cpu']}, {env['machine']['cores']} cores, {env['machine']['memory_gib']} GiB, "
        f"Linux {env['machine']['kernel']}; load average at start {', '.join(f'{x:.1f}' for x in env['machine']['load_at_start'])} "
        "(the machine is shared: ratios matter, absolute figures move with the load).",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()) + ".",
        f"- Threads, the same for all: TensorFlow intra-op {a.threads} (tlearn `--threads`, Keras "
        f"`tf.config.threading.set_intra_op_parallelism_threads`), inter-op 1 (tlearn's CPU default, "
        f"Keras `set_inter_op_parallelism_threads(1)`, PyTorch `set_num_interop_threads(1)`), "
        f"PyTorch `torch.set_num_threads({a.threads})`; {a.workers} decode workers (tlearn `--workers`, "
        f"tf.data `num_parallel_calls` + private thread pool, DataLoader `num_workers`). oneDNN: TensorFlow's default "
        "(on for x86 Linux builds), PyTorch's default (mkldnn).",
        f"- Data: {env['data']['images']} generated JPEGs in {env['data']['classes']} class folders "
        "(Food-101-like: 512 px long side, quality 90; `bench/gendata.py`, into the git-ignored bench/data).",
        f"- Training: batch {a.batch}, " + ", ".join(f"{c} {train_steps(c, a)[0]} warm-up + {train_steps(c, a)[1]}" for c in a.configs.split(",")) + " timed steps from the JPEG files with the training "
        "augmentation, SGD momentum 0.9, weight decay 5e-4, dropout 0.5 after fc6/fc7, from scratch. "
        "tlearn: `tlearn train --weights none --log-every 1` (step times from its log); Keras: `model.fit` on tf.data "
        "(`jit_compile` auto, which resolves to off here); PyTorch: a DataLoader and a plain loop.",
        f"- Inference: the whole folder at batch {a.batch}, central crop: `tlearn predict --model RUN_DIR` (JSON lines), "
        "Keras `model.predict` on tf.data (first batch, then the rest), PyTorch `inference_mode` over a DataLoader. "
        "Each loads the weights its own training run saved. Cold start includes loading the library, building the "
        "network, reading the weights and the first batch. tlearn runs with its default `--conv auto`, which computes "
        "the 3×3 convs with at least 128 input and output channels as Winograd F(4×4,3×3) on the CPU (VGG19: conv2_2 "
        "onwards; vgg_mini has none that wide); the row \"tlearn `--conv direct`\" is the same model with TensorFlow's "
        "own Conv2D, i.e. the same oneDNN kernels as Keras (its Keras and PyTorch cells repeat their inference figures). "
        "Top-1 of `--conv auto` and `--conv direct` agreed on " + agreement(summary, env["data"]["images"]) + ".",
        "- Peak RSS: the process tree's resident set, sampled every 0.1 s (DataLoader workers included).",
        "- Configurations: VGG19 at 224 (Keras: `tf.keras.applications.VGG19(weights=None, include_top=False)` + "
        "Flatten/Dense 4096/Dense 4096/Dense C, PyTorch: `torchvision.models.vgg19(num_classes=C)`), and "
        "the reduced input size, 64 px, with tlearn's `vgg_mini` rebuilt layer for layer in Keras and PyTorch "
        "(tfgraph's vgg_19 needs 224–255 px: fc6 is a 7×7 VALID conv). resnet50@224: tlearn `resnet_v1_50` vs "
        "`tf.keras.applications.ResNet50(weights=None, classes=C, classifier_activation=None)` and "
        "`torchvision.models.resnet50`; mobilenetv2@224: `mobilenet_v2` vs `MobileNetV2` and "
        "`torchvision.models.mobilenet_v2`; inception3@299: `inception_v3` vs `InceptionV3` (no aux head) and "
        "`torchvision.models.inception_v3` (aux head, weight 0.4 as tlearn). Batch norm trains on batch statistics "
        "in all three (tlearn `--batch-norm auto` = train with `--weights none`). TF-Slim's resnet_v1 strides in "
        "the last unit of each block (3.5 GMAC), Keras's and torchvision's ResNet-50 in the first (3.9, 4.1 GMAC): "
        "tlearn computes ~10 % less there.",
        f"- Input pipeline alone: `bench/pipeline/side_by_side.py --workers {a.workers} --images {a.pipeline_images}` "
        "(Go pipeline vs tf.data + decode_jpeg vs PIL + torchvision DataLoader; training preprocessing to 224, batch 64).",
    ]
    for t, why in skipped.items():
        lines.append(f"- Skipped {names.get(t, t)}: {why}.")
    notes = os.path.join(HERE, "NOTES.md")
    if not a.smoke and os.path.exists(notes):
        with open(notes) as f:
            lines += ["", f.read().rstrip()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="a few images, one step, small inputs (no VGG19)")
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated, of " + ", ".join(CONFIGS))
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--classes", type=int, default=6)
    ap.add_argument("--per-class", type=int, default=50)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=None, help="training warm-up steps (default per configuration, STEPS)")
    ap.add_argument("--steps", type=int, default=None, help="timed training steps (default per configuration, STEPS)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--pipeline", default="on", choices=["on", "off"])
    ap.add_argument("--direct", default="on", choices=["on", "off"],
                    help="also run tlearn predict with --conv direct (the same-kernel inference figure)")
    ap.add_argument("--pipeline-images", type=int, default=256)
    ap.add_argument("--out", default=None)
    ap.add_argument("--report", default=None, help="RESULTS.md path (default bench/RESULTS.md)")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite the report from OUT/results.json (e.g. after an interrupted run)")
    a = ap.parse_args()
    a.args_text = " ".join(sys.argv[1:])
    a.tools = a.tools.split(",")
    if a.smoke:
        a.configs, a.reps, a.classes, a.per_class = SMOKE_CONFIGS, 1, 3, 6
        a.warmup, a.steps, a.pipeline = 1, 1, "off"
        a.batch = min(a.batch, 4)
    a.val_split = 0.05 if a.per_class >= 20 else 0.2
    out = a.out or os.path.join(HERE, "out", "smoke" if a.smoke else "full")
    report = a.report or (os.path.join(out, "RESULTS.md") if a.smoke else os.path.join(HERE, "RESULTS.md"))
    os.makedirs(out, exist_ok=True)
    data = os.path.join(HERE, "data", "smoke" if a.smoke else "food")
    if a.report_only:
        with open(os.path.join(out, "results.json")) as f:
            saved = json.load(f)
        ran = list(saved["raw"].get(a.configs.split(",")[0], {}).values())
        a.reps = len(ran[0]) if ran else 0
        tools = [t for t in a.tools if any(t in v for v in saved["raw"].values())]
        summary = collect(saved["raw"])
        write_report(report, a, summary, saved["env"], tools, {}, 0)
        print(table(summary, tools))
        return 0
    subprocess.run([PY, os.path.join(HERE, "gendata.py"), data, "--classes", str(a.classes),
                    "--per-class", str(a.per_class)], check=True)
    n_images = sum(1 for _, _, fs in os.walk(data) for f in fs if f.endswith(".jpg"))

    have = available(a)
    skipped = {t: why for t, why in have.items() if why}
    for t, why in skipped.items():
        log(f"bench: skipping {t}: {why}")
    tools = [t for t in a.tools if t not in skipped]
    if not tools:
        log("bench: no tool available")
        return 1
    configs = []
    known = tlearn_archs() if "tlearn" in tools else set()
    for cfg in a.configs.split(","):
        if cfg not in CONFIGS:
            log(f"bench: unknown configuration {cfg} (want one of {', '.join(CONFIGS)})")
            return 2
        if "tlearn" in tools and CONFIGS[cfg][0] not in known:
            why = f"tlearn has no --arch {CONFIGS[cfg][0]} yet"
            log(f"bench: skipping {cfg}: {why}")
            skipped[cfg] = why
            continue
        configs.append(cfg)
    a.configs = ",".join(configs)
    env = {"machine": machine(), "versions": versions(), "data": {"images": n_images, "classes": a.classes},
           "args": vars(a)}
    start = time.time()
    raw = {}
    for rep in range(a.reps):
        for cfg in a.configs.split(","):
            # Rotate the order each repetition, so no tool always runs first
            # (after another configuration's heavy runs) or last.
            for tool in tools[rep % len(tools):] + tools[:rep % len(tools)]:
                if tool == "torch" and CONFIGS[cfg][1] not in TORCH_ARCHS:
                    continue
                d = os.path.join(out, cfg, tool, f"rep{rep}")
                os.makedirs(d, exist_ok=True)
                log(f"bench: rep {rep + 1}/{a.reps} {cfg} {tool} train …")
                tr, model = train(tool, cfg, a, d, data)
                log(f"bench:   train {tr['images_per_s']:.2f} img/s, peak RSS {tr['peak_rss'] / 2**20:.0f} MiB")
                pr = predict(tool, cfg, a, d, data, model, n_images)
                log(f"bench:   predict {pr['images_per_s'] or 0:.2f} img/s, cold start {pr['cold_start_s']:.2f} s, "
                    f"peak RSS {pr['peak_rss'] / 2**20:.0f} MiB")
                r = {"train": tr, "predict": pr}
                if tool == "tlearn" and a.direct == "on":
                    # The same model with TensorFlow's own convolutions: the
                    # same-kernel figure, and how often the top-1 agrees.
                    pd = predict(tool, cfg, a, d, data, model, n_images, conv="direct")
                    agree = sum(pd["top1"].get(k) == v for k, v in pr["top1"].items())
                    pd["top1_agree"] = agree
                    log(f"bench:   predict --conv direct {pd['images_per_s'] or 0:.2f} img/s; top-1 agrees with --conv auto "
                        f"on {agree} of {n_images}")
                    r["predict_direct"] = pd
                raw.setdefault(cfg, {}).setdefault(tool, []).append(r)
                if tool != "tlearn":
                    os.remove(model)  # weights files are large; the tlearn run dir is cleared next rep
        if a.pipeline == "on":
            log(f"bench: rep {rep + 1}/{a.reps} input pipeline alone …")
            for tool, r in pipeline_alone(a, rep).items():
                if tool in tools:
                    raw.setdefault("pipeline", {}).setdefault(tool, []).append(r)
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump({"env": env, "raw": raw}, f, indent=1)
    summary = collect(raw)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"env": env, "raw": raw, "summary": summary}, f, indent=1)
    write_report(report, a, summary, env, tools, skipped, time.time() - start)
    print(table(summary, tools))
    log(f"bench: wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
