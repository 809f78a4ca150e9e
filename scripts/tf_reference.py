#!/usr/bin/env python3
"""Reference numbers from real TensorFlow for tlearn's tfgraph parity tests.

Builds TF-Slim's VGG (nets/vgg.py names and shapes; vgg_mini with the same
structure and few channels) with TensorFlow's own ops in tf.compat.v1 graph
mode, fills it with seeded random weights, and writes into --out:

  ckpt_v1          V1 single-file checkpoint (as the published vgg_19.ckpt)
  ckpt_v2.*        V2 checkpoint (index + data)
  input.f32        the input batch, NHWC float32 little-endian
  logits.f32       eval-path logits [batch, classes]
  step{K}/NAME.f32 every updated variable after K momentum steps (dropout off)
  reference.json   shapes, labels, per-step loss / total loss / learning rate

fc6 rule (same as tfgraph): VGG16/19 use a 7×7 VALID fc6 (input 224..255);
vgg_mini's fc6 kernel is the spatial size after five 2×2 pools, floor(S/32).
Loss: mean softmax cross-entropy + weight_decay * sum(l2_loss(w)) over every
conv/fc weight (slim.l2_regularizer puts all of them in the total loss);
only the --trainable layers get momentum updates. --label-smoothing uses
tf.compat.v1.losses.softmax_cross_entropy(label_smoothing=ε) on the one-hot
labels; --clip-norm clips the gradients with tf.clip_by_global_norm before
the optimizer (grad_norm in reference.json: their global norm before
clipping).

Python is the reference only: tlearn itself never runs it.
"""
import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

tf1 = tf.compat.v1

ARCHS = {
    "vgg_16": dict(convs=[2, 2, 3, 3, 3], filters=[64, 128, 256, 512, 512], fc=4096, fc6=7),
    "vgg_19": dict(convs=[2, 2, 4, 4, 4], filters=[64, 128, 256, 512, 512], fc=4096, fc6=7),
    "vgg_mini": dict(convs=[2, 2, 4, 4, 4], filters=[8, 16, 32, 64, 64], fc=128, fc6=0),
}


def layers(arch, size, classes):
    a = ARCHS[arch]
    out, cin = [], 3
    for b, n in enumerate(a["convs"]):
        for c in range(n):
            out.append(dict(scope=f"conv{b+1}/conv{b+1}_{c+1}", k=3, cin=cin, cout=a["filters"][b],
                            pool=c == n - 1, relu=True, pad="SAME"))
            cin = a["filters"][b]
    k = a["fc6"] or size // 32
    assert size // 32 == k, f"input {size} does not reduce to {k}x{k} before fc6"
    out.append(dict(scope="fc6", k=k, cin=cin, cout=a["fc"], pool=False, relu=True, pad="VALID"))
    out.append(dict(scope="fc7", k=1, cin=a["fc"], cout=a["fc"], pool=False, relu=True, pad="VALID"))
    out.append(dict(scope="fc8", k=1, cin=a["fc"], cout=classes, pool=False, relu=False, pad="VALID"))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--arch", default="vgg_mini", choices=sorted(ARCHS))
    p.add_argument("--input-size", type=int, default=64)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--classes", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--steps", type=int, default=3, help="momentum steps to record (0 = logits only)")
    p.add_argument("--record-steps", default="1,3")
    p.add_argument("--trainable", default="all", help="all | head | last-N")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-end", type=float, default=1e-7)
    p.add_argument("--lr-power", type=float, default=1.0)
    p.add_argument("--decay-steps", type=int, default=10)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--clip-norm", type=float, default=0.0, help="tf.clip_by_global_norm before the optimizer (0: none)")
    p.add_argument("--formats", default="v1,v2")
    p.add_argument("--predict-images", default="",
                   help="folder of PNGs at the input size: write predict.json with softmax probabilities "
                        "of (RGB 0..255 minus the VGG means), for `tlearn predict --arch --weights --labels` parity")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)

    rng = np.random.default_rng(a.seed)
    ls = layers(a.arch, a.input_size, a.classes)
    # He-normal weights and small random biases keep activations O(1) through
    # 19 layers (slim's Glorot init with zero biases would shrink them and
    # leave the biases untested).
    init = {}
    for l in ls:
        fan_in = l["k"] * l["k"] * l["cin"]
        init[f"{a.arch}/{l['scope']}/weights"] = (rng.standard_normal((l["k"], l["k"], l["cin"], l["cout"]), dtype=np.float32)
                                                  * np.float32(np.sqrt(2.0 / fan_in)))
        init[f"{a.arch}/{l['scope']}/biases"] = rng.standard_normal((l["cout"],), dtype=np.float32) * np.float32(0.1)
    x = rng.standard_normal((a.batch, a.input_size, a.input_size, 3), dtype=np.float32)
    labels = rng.integers(0, a.classes, size=a.batch).astype(np.int32)

    g = tf1.Graph()
    with g.as_default():
        images = tf1.placeholder(tf.float32, [None, a.input_size, a.input_size, 3])
        y = tf1.placeholder(tf.int32, [None])
        vars_, net, weights = {}, images, []
        with tf1.variable_scope(a.arch):
            for i, l in enumerate(ls):
                with tf1.variable_scope(l["scope"]):
                    # Zero-initialised, then loaded through placeholders: keeps
                    # the 550 MB of VGG weights out of the GraphDef.
                    w = tf1.get_variable("weights", shape=(l["k"], l["k"], l["cin"], l["cout"]),
                                         initializer=tf1.zeros_initializer(), use_resource=True)
                    b = tf1.get_variable("biases", shape=(l["cout"],), initializer=tf1.zeros_initializer(), use_resource=True)
                vars_[w.op.name], vars_[b.op.name] = w, b
                weights.append(w)
                net = tf.nn.bias_add(tf.nn.conv2d(net, w, [1, 1, 1, 1], l["pad"]), b)
                if l["relu"]:
                    net = tf.nn.relu(net)
                if l["pool"]:
                    net = tf.nn.max_pool2d(net, 2, 2, "VALID")
        logits = tf.squeeze(net, [1, 2])
        if a.label_smoothing > 0:
            xent = tf1.losses.softmax_cross_entropy(tf.one_hot(y, a.classes), logits, label_smoothing=a.label_smoothing)
        else:
            xent = tf1.losses.sparse_softmax_cross_entropy(labels=y, logits=logits)
        total = xent + a.weight_decay * tf.add_n([tf.nn.l2_loss(w) for w in weights])
        gs = tf1.train.get_or_create_global_step()
        lr = tf1.train.polynomial_decay(a.lr, gs, a.decay_steps, a.lr_end, power=a.lr_power)
        n = len(ls)
        first = {"all": 0, "head": n - 1}.get(a.trainable)
        if first is None:
            first = n - int(a.trainable.split("-")[1])
        train_vars = [v for i, l in enumerate(ls) for v in (vars_[f"{a.arch}/{l['scope']}/weights"], vars_[f"{a.arch}/{l['scope']}/biases"]) if i >= first]
        opt = tf1.train.MomentumOptimizer(lr, a.momentum)
        gvs = opt.compute_gradients(total, var_list=train_vars)
        grad_norm = tf.linalg.global_norm([g for g, _ in gvs])
        if a.clip_norm > 0:
            clipped, _ = tf.clip_by_global_norm([g for g, _ in gvs], a.clip_norm)
            gvs = list(zip(clipped, [v for _, v in gvs]))
        train_op = opt.apply_gradients(gvs, global_step=gs)

        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            for name, v in vars_.items():
                ph = tf1.placeholder(tf.float32, init[name].shape)
                sess.run(v.assign(ph), {ph: init[name]})
            formats = a.formats.split(",")
            if "v1" in formats:
                tf1.train.Saver(vars_, write_version=tf1.train.SaverDef.V1).save(
                    sess, os.path.join(a.out, "ckpt_v1"), write_meta_graph=False, write_state=False)
            if "v2" in formats:
                tf1.train.Saver(vars_, write_version=tf1.train.SaverDef.V2).save(
                    sess, os.path.join(a.out, "ckpt_v2"), write_meta_graph=False, write_state=False)
            x.tofile(os.path.join(a.out, "input.f32"))
            feed = {images: x, y: labels}
            lg = sess.run(logits, feed)
            lg.astype(np.float32).tofile(os.path.join(a.out, "logits.f32"))
            if a.predict_images:
                from PIL import Image
                names = sorted(f for f in os.listdir(a.predict_images) if f.endswith(".png"))
                means = np.array([123.68, 116.78, 103.94], np.float32)  # slim vgg_preprocessing, RGB
                batch = np.stack([np.asarray(Image.open(os.path.join(a.predict_images, n)).convert("RGB"), np.float32) - means
                                  for n in names])
                probs = sess.run(tf.nn.softmax(logits), {images: batch})
                with open(os.path.join(a.out, "predict.json"), "w") as f:
                    json.dump({n: probs[i].tolist() for i, n in enumerate(names)}, f)
            ref = dict(arch=a.arch, input_size=a.input_size, batch=a.batch, classes=a.classes,
                       labels=labels.tolist(), trainable=a.trainable, lr=a.lr, lr_end=a.lr_end,
                       lr_power=a.lr_power, decay_steps=a.decay_steps, momentum=a.momentum,
                       weight_decay=a.weight_decay, tf_version=tf.__version__,
                       variables={k: list(v.shape) for k, v in init.items()},
                       trained=[v.op.name for v in train_vars], steps=[])
            record = {int(s) for s in a.record_steps.split(",") if s}
            for k in range(1, a.steps + 1):
                _, l, t, r, gn = sess.run([train_op, xent, total, lr, grad_norm], feed)
                if k in record:
                    d = os.path.join(a.out, f"step{k}")
                    os.makedirs(d, exist_ok=True)
                    for name, v in vars_.items():
                        sess.run(v).astype(np.float32).tofile(os.path.join(d, name.replace("/", "__") + ".f32"))
                    ref["steps"].append(dict(step=k, loss=float(l), total_loss=float(t), lr=float(r), dir=f"step{k}",
                                             global_step=int(sess.run(gs)), grad_norm=float(gn)))
    with open(os.path.join(a.out, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)


if __name__ == "__main__":
    main()
