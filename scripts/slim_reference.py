#!/usr/bin/env python3
"""Reference numbers from TF-Slim's own network code for tlearn's nets tests.

Builds a network with the tf-slim package's nets/ (resnet_v1, resnet_v2, vgg,
inception_v3, alexnet_v2) in
tf.compat.v1 graph mode under its arg_scope, and writes into --out:

  variables.json   {"names": [...], "shapes": {...}} in creation order (--names-only stops here)
  ckpt_v1, ckpt_v2.*  V1 / V2 checkpoints of seeded random weights and
                   non-trivial batch-norm statistics
  input.f32        the input batch, NHWC float32 little-endian
  logits.f32       eval-tower logits (is_training=False)
  step{K}/NAME.f32 every variable after K momentum steps of the training
                   tower (is_training=True, sharing the variables; batch-norm
                   moving averages updated through UPDATE_OPS as slim's
                   create_train_op does)
  reference.json   the run's settings and per-step loss / total loss / lr

resnet_mini is slim's resnet_v1() with three narrow blocks (tfgraph/nets/resnet.go).
inception_v3's training loss adds 0.4 times the AuxLogits cross-entropy, as
slim's train_image_classifier does ("loss" in reference.json is that sum).
--beta-offset shifts every random batch-norm beta: deep batch-norm nets at
plain random weights are chaotic (a training step amplifies rounding 1e2-1e4x),
and with most ReLUs in their linear part three steps are reproducible (the
mobilenet_v2 and inception_v3 training parity tests; bench/NOTES.md).
Python is the reference only: tlearn itself never runs it.
"""
import argparse
import importlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

# tf-slim imports tf_keras.legacy_tf_layers, which tf-keras 2.18 keeps under src/.
sys.modules["tf_keras.legacy_tf_layers"] = importlib.import_module("tf_keras.src.legacy_tf_layers")
import tf_slim as slim  # noqa: E402
from tf_slim.nets import alexnet, inception_v3, resnet_v1, resnet_v2, vgg  # noqa: E402

tf1 = tf.compat.v1


def resnet_mini(images, num_classes, is_training, reuse):
    blocks = [resnet_v1.resnet_v1_block("block1", base_depth=16, num_units=2, stride=2),
              resnet_v1.resnet_v1_block("block2", base_depth=32, num_units=2, stride=2),
              resnet_v1.resnet_v1_block("block3", base_depth=64, num_units=1, stride=1)]
    net, ends = resnet_v1.resnet_v1(images, blocks, num_classes, is_training=is_training, global_pool=True,
                                    reuse=reuse, scope="resnet_mini")
    return tf.squeeze(net, [1, 2]), ends


def resnet(fn):
    # This tf-slim's resnet_v1 and resnet_v2 keep the logits [n,1,1,classes].
    def build(images, n, is_training, reuse):
        net, ends = fn(images, n, is_training=is_training, reuse=reuse)
        return tf.squeeze(net, [1, 2]), ends
    return build


NETS = {
    "resnet_mini": (resnet_mini, resnet_v1.resnet_arg_scope),
    "resnet_v1_50": (resnet(resnet_v1.resnet_v1_50), resnet_v1.resnet_arg_scope),
    "resnet_v1_101": (resnet(resnet_v1.resnet_v1_101), resnet_v1.resnet_arg_scope),
    "resnet_v1_152": (resnet(resnet_v1.resnet_v1_152), resnet_v1.resnet_arg_scope),
    "resnet_v2_50": (resnet(resnet_v2.resnet_v2_50), resnet_v2.resnet_arg_scope),
    "resnet_v2_101": (resnet(resnet_v2.resnet_v2_101), resnet_v2.resnet_arg_scope),
    "resnet_v2_152": (resnet(resnet_v2.resnet_v2_152), resnet_v2.resnet_arg_scope),
    "inception_v3": (lambda x, n, is_training, reuse: inception_v3.inception_v3(
        x, n, is_training=is_training, dropout_keep_prob=1.0, reuse=reuse), inception_v3.inception_v3_arg_scope),
    "alexnet_v2": (lambda x, n, is_training, reuse: alexnet.alexnet_v2(x, n, is_training=is_training, dropout_keep_prob=1.0),
                   alexnet.alexnet_v2_arg_scope),
    "vgg_16": (lambda x, n, is_training, reuse: vgg.vgg_16(x, n, is_training=is_training, dropout_keep_prob=1.0),
               vgg.vgg_arg_scope),
    "vgg_19": (lambda x, n, is_training, reuse: vgg.vgg_19(x, n, is_training=is_training, dropout_keep_prob=1.0),
               vgg.vgg_arg_scope),
}


def random_value(rng, name, shape):
    """He-normal weights, and batch-norm parameters and statistics far from
    their initial 0/1 so that a mix-up of any two shows."""
    shape = tuple(shape)
    leaf = name.rsplit("/", 1)[-1]
    if leaf == "weights":
        fan_in = int(np.prod(shape[:-1]))
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
    if leaf == "gamma":
        return rng.uniform(0.6, 1.4, shape).astype(np.float32)
    if leaf == "moving_variance":
        return rng.uniform(0.5, 2.0, shape).astype(np.float32)
    if leaf in ("beta", "moving_mean", "biases"):
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.1)
    raise ValueError(f"no random rule for {name}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--arch", required=True, choices=sorted(NETS))
    p.add_argument("--input-size", type=int, default=64)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--classes", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--names-only", action="store_true", help="write variables.json and stop")
    p.add_argument("--steps", type=int, default=0, help="momentum steps to record (0 = logits only)")
    p.add_argument("--record-steps", default="1,3")
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--lr-end", type=float, default=1e-4)
    p.add_argument("--lr-power", type=float, default=1.0)
    p.add_argument("--decay-steps", type=int, default=10)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--formats", default="v1,v2")
    p.add_argument("--beta-offset", type=float, default=0.0,
                   help="added to every random batch-norm beta: a positive shift keeps most ReLUs in their linear "
                        "part, taming the chaos of a deep batch-norm net at random initialisation (multi-step parity)")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    build, arg_scope = NETS[a.arch]

    g = tf1.Graph()
    with g.as_default():
        images = tf1.placeholder(tf.float32, [None, a.input_size, a.input_size, 3])
        y = tf1.placeholder(tf.int32, [None])
        with slim.arg_scope(arg_scope(weight_decay=a.weight_decay)):
            logits, _ = build(images, a.classes, False, None)
        variables = tf1.global_variables()
        names = [v.op.name for v in variables]
        shapes = {v.op.name: v.shape.as_list() for v in variables}
        with open(os.path.join(a.out, "variables.json"), "w") as f:
            json.dump({"names": names, "shapes": shapes}, f, indent=1)
        if a.names_only:
            return
        if a.steps > 0:
            with slim.arg_scope(arg_scope(weight_decay=a.weight_decay)):
                train_logits, train_ends = build(images, a.classes, True, True)
            update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
            xent = tf1.losses.sparse_softmax_cross_entropy(labels=y, logits=train_logits)
            if "AuxLogits" in train_ends:
                xent = xent + tf1.losses.sparse_softmax_cross_entropy(
                    labels=y, logits=train_ends["AuxLogits"], weights=0.4)
            total = xent + tf.add_n(tf1.get_collection(tf1.GraphKeys.REGULARIZATION_LOSSES))
            gs = tf1.train.get_or_create_global_step()
            lr = tf1.train.polynomial_decay(a.lr, gs, a.decay_steps, a.lr_end, power=a.lr_power)
            with tf.control_dependencies(update_ops):
                train_op = tf1.train.MomentumOptimizer(lr, a.momentum).minimize(
                    total, global_step=gs, var_list=tf1.trainable_variables())

        rng = np.random.default_rng(a.seed)
        x = rng.standard_normal((a.batch, a.input_size, a.input_size, 3), dtype=np.float32) * np.float32(50)
        labels = rng.integers(0, a.classes, size=a.batch).astype(np.int32)
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            model_vars = {v.op.name: v for v in variables}
            # One run assigns every variable: a run per variable re-prunes
            # and re-optimises the whole graph each time (minutes for the
            # 260 variables of mobilenet_v2).
            phs = {name: tf1.placeholder(tf.float32, shapes[name]) for name in model_vars}
            assign = tf.group(*[v.assign(phs[name]) for name, v in model_vars.items()])
            values = {name: random_value(rng, name, shapes[name]) for name in model_vars}
            for name in values:
                if name.endswith("/beta"):
                    values[name] += np.float32(a.beta_offset)
            sess.run(assign, {phs[name]: values[name] for name in model_vars})
            formats = a.formats.split(",")
            if "v1" in formats:
                tf1.train.Saver(model_vars, write_version=tf1.train.SaverDef.V1).save(
                    sess, os.path.join(a.out, "ckpt_v1"), write_meta_graph=False, write_state=False)
            if "v2" in formats:
                tf1.train.Saver(model_vars, write_version=tf1.train.SaverDef.V2).save(
                    sess, os.path.join(a.out, "ckpt_v2"), write_meta_graph=False, write_state=False)
            x.tofile(os.path.join(a.out, "input.f32"))
            feed = {images: x, y: labels}
            sess.run(logits, feed).astype(np.float32).tofile(os.path.join(a.out, "logits.f32"))
            ref = dict(arch=a.arch, input_size=a.input_size, batch=a.batch, classes=a.classes,
                       labels=labels.tolist(), trainable="all", lr=a.lr, lr_end=a.lr_end,
                       lr_power=a.lr_power, decay_steps=a.decay_steps, momentum=a.momentum,
                       weight_decay=a.weight_decay, tf_version=tf.__version__,
                       variables=shapes, steps=[],
                       # What a training step changes: the trainable variables
                       # and the batch-norm moving statistics.
                       trained=[n for n in names if not n.endswith("moving_mean") and not n.endswith("moving_variance")
                                and model_vars[n] in tf1.trainable_variables()]
                       + [n for n in names if n.endswith("moving_mean") or n.endswith("moving_variance")])
            record = {int(s) for s in a.record_steps.split(",") if s}
            for k in range(1, a.steps + 1):
                _, l, t, r = sess.run([train_op, xent, total, lr], feed)
                if k in record:
                    d = os.path.join(a.out, f"step{k}")
                    os.makedirs(d, exist_ok=True)
                    for name, value in sess.run(model_vars).items():
                        value.astype(np.float32).tofile(os.path.join(d, name.replace("/", "__") + ".f32"))
                    ref["steps"].append(dict(step=k, loss=float(l), total_loss=float(t), lr=float(r), dir=f"step{k}",
                                             global_step=int(sess.run(gs))))
    with open(os.path.join(a.out, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)


if __name__ == "__main__":
    main()
