#!/usr/bin/env python3
"""Reference numbers from real TensorFlow for tlearn's tfgraph/optim tests.

Reads a JSON spec (argv[1]) and writes JSON results to argv[2]:

  {"mode": "optimizers", "x", "y", "w", "b", "lr", "steps", "cases": [...]}
      A dense layer loss = mean((x·w + b − y)²) trained `steps` steps by each
      case's tf.compat.v1.train optimizer (momentum, nesterov, adam, rmsprop;
      adamw = w −= lr·wd·w on the kernel, then AdamOptimizer's step). After
      each step: every global variable by name (slots included). A case's
      "restore" is a tlearn checkpoint prefix that tf1.train.Saver restores
      (every variable, slots and beta powers) before the steps.
  {"mode": "schedules", "steps", "cases": [...]}
      The learning rate at steps 0..steps−1 of polynomial_decay,
      cosine_decay or exponential_decay(staircase) with a linear warmup
      from 0 over `warmup` steps, the decay following at step − warmup.

Python is the reference only: tlearn itself never runs it.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

tf1 = tf.compat.v1


def optimizer(c, lr):
    k = c["kind"]
    if k in ("momentum", "nesterov"):
        return tf1.train.MomentumOptimizer(lr, c["momentum"], use_nesterov=(k == "nesterov"))
    if k in ("adam", "adamw"):
        return tf1.train.AdamOptimizer(lr, c["beta1"], c["beta2"], c["epsilon"])
    if k == "rmsprop":
        return tf1.train.RMSPropOptimizer(lr, decay=c["rho"], momentum=c["momentum"], epsilon=c["epsilon"])
    raise ValueError(k)


def run_optimizer(spec, c):
    g = tf.Graph()
    with g.as_default():
        x = tf.constant(np.array(spec["x"], np.float32))
        y = tf.constant(np.array(spec["y"], np.float32))
        with tf1.variable_scope("dense"):
            w = tf1.get_variable("kernel", initializer=np.array(spec["w"], np.float32), use_resource=True)
            b = tf1.get_variable("bias", initializer=np.array(spec["b"], np.float32), use_resource=True)
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
        lr = tf.constant(spec["lr"], tf.float32)
        opt = optimizer(c, lr)
        gvs = opt.compute_gradients(loss, [w, b])
        deps = []
        if c["kind"] == "adamw":
            with tf.control_dependencies([g for g, _ in gvs]):  # after the forward's reads
                deps = [w.assign_sub(lr * c["weight_decay"] * w)]
        with tf.control_dependencies(deps):
            train = opt.apply_gradients(gvs)
        names = sorted(v.op.name for v in tf1.global_variables())
        byname = {v.op.name: v for v in tf1.global_variables()}
        out = []
        with tf1.Session(graph=g) as s:
            s.run(tf1.global_variables_initializer())
            if c.get("restore"):
                # TensorFlow's own Saver reads tlearn's checkpoint by name.
                tf1.train.Saver().restore(s, c["restore"])
            for _ in range(spec["steps"]):
                s.run(train)
                out.append({n: np.asarray(s.run(byname[n]), np.float64).ravel().tolist() for n in names})
    return out


def lr_at(c, step):
    w = c.get("warmup", 0)
    s = tf.maximum(step - w, 0)
    total = c["decay_steps"]
    k = c["kind"]
    if k == "poly":
        after = tf1.train.polynomial_decay(c["lr"], s, total, c["end"], power=1.0)
    elif k == "cosine":
        after = tf1.train.cosine_decay(c["lr"], s, total, alpha=c["end"] / c["lr"])
    elif k == "step":
        after = tf1.train.exponential_decay(c["lr"], s, c["every"], c["gamma"], staircase=True)
    elif k == "constant":
        after = tf.constant(c["lr"], tf.float32)
    else:
        raise ValueError(k)
    if w == 0:
        return after
    ramp = c["lr"] * tf.cast(step, tf.float32) / float(w)
    return tf.where(step < w, ramp, tf.cast(after, tf.float32))


def run_schedule(spec, c):
    g = tf.Graph()
    with g.as_default():
        step = tf1.placeholder(tf.int64, [])
        lr = lr_at(c, step)
        with tf1.Session(graph=g) as s:
            return [float(s.run(lr, {step: i})) for i in range(spec["steps"])]


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    if spec["mode"] == "optimizers":
        res = [run_optimizer(spec, c) for c in spec["cases"]]
    else:
        res = [run_schedule(spec, c) for c in spec["cases"]]
    with open(sys.argv[2], "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main()
