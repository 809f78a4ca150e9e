// Package tfgraph is tlearn's only seam to TensorFlow: it builds VGG graphs with
// TF-Slim variable names through the TensorFlow C API (github.com/wamuir/graft),
// restores pretrained weights, runs training and inference steps, and saves
// checkpoints. Nothing outside this package sees a graft type: callers hand it
// plain []float32 batches and []int32 labels.
package tfgraph
