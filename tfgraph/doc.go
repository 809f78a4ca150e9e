// Package tfgraph is tlearn's only seam to TensorFlow: it builds VGG graphs with
// TF-Slim variable names through the TensorFlow C API (github.com/wamuir/graft),
// restores pretrained weights, runs training and inference steps, and saves
// checkpoints. Nothing outside this package sees a graft type: callers hand it
// plain []float32 batches and []int32 labels.
//
// # The model
//
// NewModel builds one graph for a Config: TF-Slim's nets/vgg.py (vgg_16,
// vgg_19; vgg_mini is the same structure with 8..64 channels and 128-wide fc
// layers) with resource variables named exactly like slim's
// ("vgg_19/conv1/conv1_1/weights", ..., "vgg_19/fc8/biases"), a new fc8 head
// of NumClasses outputs, NHWC float32 input and logits squeezed to [n, N].
//
// fc6 is a VALID conv whose kernel covers the whole map left after the five
// 2×2 pools: 7×7 for vgg_16/vgg_19 (so their input must be 224..255 px, as
// the pretrained fc6 weights are 7×7×512×4096), floor(InputSize/32) for
// vgg_mini (2×2 at 64 px, 1×1 at 32 px). scripts/tf_reference.py uses the
// same rule.
//
// The graph has two forward paths sharing one read of each variable: the
// eval path (no dropout) behind Logits, Predict, Evaluate and export, and
// the training path (dropout after fc6 and fc7 with keep DropoutKeep; with
// DropoutKeep = 1 it is the eval path itself). A training step is one
// Session.Run: mean softmax cross-entropy (one-hot +
// SoftmaxCrossEntropyWithLogits, optionally class-weighted) plus
// WeightDecay·Σ l2_loss(w) over every conv/fc weight — trainable or not, as
// slim's regularisation losses — gradients from the C API's registry
// (op.Gradients) for the trainable variables only, ResourceApplyMomentum
// with tf.compat.v1.train.polynomial_decay's learning rate, and the
// global_step increment after all updates. Momentum slots are named
// "<var>/Momentum" as tf.compat.v1.train.MomentumOptimizer's.
//
// # Checkpoints
//
// LoadPretrained and LoadAll read TF-Slim checkpoints in V1 (the published
// vgg_19.ckpt) and V2 format with TensorFlow's RestoreV2 op, validating names
// and shapes before assigning anything. SaveCheckpoint writes V2 checkpoints
// with SaveV2 and maintains TensorFlow's "checkpoint" state file atomically,
// so TensorFlow's own tools (tf.train.latest_checkpoint, tf.train.load_checkpoint)
// read tlearn's run directories.
//
// # Parity
//
// The tests compare against real TensorFlow in Python (scripts/tf_reference.py,
// found through TLEARN_PYTHON): logits of vgg_16/vgg_19 at 224 and vgg_mini,
// and loss, learning rate and every variable after one and three momentum
// steps, within 1e-4 relative (max|got−want| / max|want|).
package tfgraph
