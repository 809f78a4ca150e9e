#!/usr/bin/env python3
"""Reference numbers for tlearn's MobileNets (tfgraph/nets/mobilenet.go).

MobileNet is not in the tf-slim PyPI package, so this script defines
mobilenet_v1 (1.0) and mobilenet_v2 (depth multipliers 1.0 and 1.4) itself,
with tf-slim's layers (conv2d, separable_conv2d with num_outputs=None,
batch_norm, dropout) in tf.compat.v1 graph mode, under the variable names and
structure of TF-Slim's research/slim nets/mobilenet_v1.py and
nets/mobilenet/mobilenet_v2.py (written from their description, not copied),
and then runs slim_reference.py's main: the same CLI and outputs
(variables.json, checkpoints, input/logits, training steps, reference.json).

Both heads pool globally (slim's AvgPool_1a / global_pool over the whole map
at the default 224 px).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import slim_reference as ref  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

slim = ref.slim


def relu6_scope(decay, weight_decay):
    """The arg scope of both nets: conv2d and separable_conv2d batch-normalised
    (center and scale, epsilon 1e-3) with ReLU6 and SAME padding; L2 on the
    conv2d weights only (the depthwise ones are not regularised)."""
    def scope(weight_decay=weight_decay):
        with slim.arg_scope([slim.conv2d, slim.separable_conv2d], activation_fn=tf.nn.relu6,
                            normalizer_fn=slim.batch_norm, padding="SAME",
                            weights_initializer=tf.compat.v1.truncated_normal_initializer(stddev=0.09)):
            with slim.arg_scope([slim.batch_norm], center=True, scale=True, decay=decay, epsilon=1e-3):
                with slim.arg_scope([slim.conv2d], weights_regularizer=slim.l2_regularizer(weight_decay)):
                    with slim.arg_scope([slim.separable_conv2d], weights_regularizer=None) as sc:
                        return sc
    return scope


V1_LAYERS = [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512),
             (1, 512), (1, 512), (1, 512), (1, 512), (1, 512), (2, 1024), (1, 1024)]


def mobilenet_v1(images, num_classes, is_training, reuse):
    with tf.compat.v1.variable_scope("MobilenetV1", reuse=reuse):
        with slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
            net = slim.conv2d(images, 32, [3, 3], stride=2, scope="Conv2d_0")
            for i, (stride, depth) in enumerate(V1_LAYERS, 1):
                net = slim.separable_conv2d(net, None, [3, 3], depth_multiplier=1, stride=stride,
                                            scope=f"Conv2d_{i}_depthwise")
                net = slim.conv2d(net, depth, [1, 1], scope=f"Conv2d_{i}_pointwise")
            with tf.compat.v1.variable_scope("Logits"):
                net = tf.reduce_mean(net, [1, 2], keepdims=True, name="AvgPool_1a")
                net = slim.dropout(net, keep_prob=1.0, scope="Dropout_1b")
                logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                                     scope="Conv2d_1c_1x1")
    return tf.squeeze(logits, [1, 2]), {}


def make_divisible(v, divisor=8):
    n = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if n < 0.9 * v:
        n += divisor
    return n


# (expansion, stride, output depth, repeats) of V2_DEF after the first conv.
V2_BLOCKS = [(1, 1, 16, 1), (6, 2, 24, 2), (6, 2, 32, 3), (6, 2, 64, 4), (6, 1, 96, 3), (6, 2, 160, 3),
             (6, 1, 320, 1)]


def mobilenet_v2(mult):
    def build(images, num_classes, is_training, reuse):
        with tf.compat.v1.variable_scope("MobilenetV2", reuse=reuse):
            with slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training):
                net = slim.conv2d(images, make_divisible(32 * mult), [3, 3], stride=2, scope="Conv")
                i = 0
                for expansion, stride0, depth, repeats in V2_BLOCKS:
                    out = make_divisible(depth * mult)
                    for r in range(repeats):
                        stride = stride0 if r == 0 else 1
                        scope = "expanded_conv" if i == 0 else f"expanded_conv_{i}"
                        with tf.compat.v1.variable_scope(scope):
                            x = net
                            cin = x.shape[-1]
                            inner = make_divisible(cin * expansion) if expansion > 1 else cin
                            if inner > cin:
                                net = slim.conv2d(net, inner, [1, 1], scope="expand")
                            net = slim.separable_conv2d(net, None, [3, 3], depth_multiplier=1, stride=stride,
                                                        scope="depthwise")
                            net = slim.conv2d(net, out, [1, 1], activation_fn=None, scope="project")
                            if stride == 1 and cin == out:
                                net = net + x
                        i += 1
                net = slim.conv2d(net, make_divisible(1280 * mult) if mult > 1 else 1280, [1, 1], scope="Conv_1")
                with tf.compat.v1.variable_scope("Logits"):
                    net = tf.reduce_mean(net, [1, 2], keepdims=True, name="global_pool")
                    net = slim.dropout(net, keep_prob=1.0, scope="Dropout")
                    logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                                         biases_initializer=tf.zeros_initializer(), scope="Conv2d_1c_1x1")
        return tf.squeeze(logits, [1, 2]), {}
    return build


def random_value(rng, name, shape):
    """slim_reference's rules, and He-normal depthwise weights (fan-in k·k:
    each filter sees one channel)."""
    if name.endswith("/depthwise_weights"):
        return rng.standard_normal(tuple(shape), dtype=np.float32) * np.float32(np.sqrt(2.0 / (shape[0] * shape[1])))
    return slim_random_value(rng, name, shape)


slim_random_value = ref.random_value
ref.random_value = random_value
ref.NETS.update({
    "mobilenet_v1": (mobilenet_v1, relu6_scope(0.9997, 4e-5)),
    "mobilenet_v2": (mobilenet_v2(1.0), relu6_scope(0.997, 4e-5)),
    "mobilenet_v2_140": (mobilenet_v2(1.4), relu6_scope(0.997, 4e-5)),
})

if __name__ == "__main__":
    ref.main()
