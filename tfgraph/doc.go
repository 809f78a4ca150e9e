// Package tfgraph is tlearn's only seam to TensorFlow: it builds networks
// with TF-Slim variable names through the TensorFlow C API
// (github.com/wamuir/graft), restores pretrained weights, runs training and
// inference steps, and saves checkpoints. Nothing outside this package (and
// its sub-packages) sees a graft type: callers hand it plain []float32
// batches and []int32 labels.
//
// # Layers
//
//	tfgraph        Model: session, train step, eval, predict, checkpoints, export
//	  nets         architectures as code (vgg.go, …) and the table of names
//	  optim        Optimizer (Momentum) and Schedule (Polynomial, Constant)
//	  slim         the builder: scopes, arg defaults, variables by slim name, layers, saver ops
//	  winograd     the inference path's Winograd F(4×4,3×3) conv
//
// # The model
//
// NewModel builds one graph for a Config from the net's Build function
// (nets.Lookup(Config.Arch)), in three passes over one slim.Vars:
//
//  1. the eval forward (moving statistics, no dropout, Winograd for the
//     wide 3×3 convs where winogradPolicy says so) creates every model
//     variable once, in layer order, named exactly like slim's
//     ("vgg_19/conv1/conv1_1/weights", ..., "vgg_19/fc8/biases");
//  2. Config.Trainable marks what trains (all, head = the net's HeadScopes,
//     last-N weight layers, scopes:P1,P2); moving statistics never do;
//  3. the training forward (dropout with keep DropoutKeep, batch norm on
//     batch statistics with moving-average updates, direct convs) gets the
//     same variables by name. TensorFlow runs only what a fetch needs, so
//     the second forward costs graph size, not time.
//
// A training step is one Session.Run: mean softmax cross-entropy (one-hot +
// SoftmaxCrossEntropyWithLogits, optionally class-weighted; + 0.4·the aux
// head's for nets that have one) plus WeightDecay·Σ l2_loss(w) over every
// weight — trainable or not, as slim's regularisation losses — gradients
// from the C API's registry (op.Gradients) for the trainable variables
// only, the optimizer's updates (optim.Momentum: ResourceApplyMomentum,
// slots "<var>/Momentum" as tf.compat.v1.train.MomentumOptimizer's) with
// the schedule's learning rate (optim.Polynomial:
// tf.compat.v1.train.polynomial_decay), and the global_step increment after
// all updates and batch-norm statistics updates. The export
// (ExportSavedModel) builds the same net again on a fresh graph with
// slim.Mode{}.
//
// # Data-parallel
//
// With Config.Devices the training forward, loss and gradients are built
// once per device instead (replicas.go): each replica's graph is built on
// placeholders (slim.NewFeedVars) and imported into the model graph with the
// device as default device, so the C API's unplaced gradient ops land on it
// too; the batch is split evenly, the gradients reduced by a GradientReducer
// (CollectiveMeanGradients, an in-process CollectiveReduceV2 that uses NCCL
// where the build has it, on GPUs; MeanGradients, AddN on the first device,
// on CPUs and before a cluster's all-reduce across tasks) and applied once. TestReplicasMatchOneDevice and
// TestReplicaPlacementRan (RunMetadata step stats) check results and placement.
//
// VGG's fc6 is a VALID conv whose kernel covers the whole map left after
// the five 2×2 pools: 7×7 for vgg_16/vgg_19 (so their input must be
// 224..255 px, as the pretrained fc6 weights are 7×7×512×4096),
// floor(InputSize/32) for vgg_mini (2×2 at 64 px, 1×1 at 32 px).
// scripts/tf_reference.py uses the same rule.
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
