#!/usr/bin/env python3
"""Op-level profile of tlearn's training graph (a GraphDef written by
`TLEARN_DUMP_GRAPH=FILE go test -run TestDumpGraphForProfile ./tfgraph/`) in
a TensorFlow 1-style Session with RunMetadata step stats, next to the same
step of the Keras model bench/competitors.py builds: where a gap between
tlearn and Keras comes from (which op types take the time).

    profile_graph.py FILE [--batch 16] [--size 224] [--steps 2]
"""
import argparse
import collections
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import tensorflow as tf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("graph")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--inter", type=int, default=0)
    ap.add_argument("--fetch", default="train", choices=["train", "probs"])
    a = ap.parse_args()
    gd = tf.compat.v1.GraphDef()
    with open(a.graph, "rb") as f:
        gd.ParseFromString(f.read())
    names = open(a.graph + ".fetches").read().split()
    inits = open(a.graph + ".inits").read().split()
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=a.threads, inter_op_parallelism_threads=a.inter)
    sess = tf.compat.v1.Session(graph=g, config=cfg)
    sess.run([g.get_operation_by_name(n) for n in inits])
    rng = np.random.default_rng(0)
    x = rng.normal(0, 50, (a.batch, a.size, a.size, 3)).astype(np.float32)
    y = rng.integers(0, 6, a.batch).astype(np.int32)
    feeds = {g.get_tensor_by_name(names[0] + ":0"): x, g.get_tensor_by_name(names[1] + ":0"): y}
    fetches = [g.get_tensor_by_name(n + ":0") for n in (names[2:6] if a.fetch == "train" else names[6:7])]
    sess.run(fetches, feeds)  # warm-up
    for i in range(a.steps):
        t = time.perf_counter()
        sess.run(fetches, feeds)
        print(f"step {i}: {time.perf_counter() - t:.2f} s", flush=True)
    md = tf.compat.v1.RunMetadata()
    opts = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
    t = time.perf_counter()
    sess.run(fetches, feeds, options=opts, run_metadata=md)
    wall = time.perf_counter() - t
    by_type = collections.Counter()
    by_node = collections.Counter()
    for dev in md.step_stats.dev_stats:
        for ns in dev.node_stats:
            us = ns.all_end_rel_micros
            kind = ns.timeline_label.split("(")[0].split("=")[-1].strip() if ns.timeline_label else ns.node_name
            op = ns.timeline_label.split(" = ")[-1].split("(")[0] if " = " in ns.timeline_label else "?"
            by_type[op] += us
            by_node[ns.node_name] += us
    print(f"traced step {wall:.2f} s; op time by type (ms, summed over threads):")
    for k, v in by_type.most_common(15):
        print(f"  {k:40s} {v / 1000:9.1f}")
    print("top nodes:")
    for k, v in by_node.most_common(int(os.environ.get("TOPN", "15"))):
        print(f"  {k:70s} {v / 1000:9.1f}")


if __name__ == "__main__":
    sys.exit(main())
