// Package pipeline turns a user's images into training, evaluation and
// prediction batches for tfgraph, without importing TensorFlow.
//
// The stages are:
//
//   - Load discovers a dataset (the Food-101 layout, a folder per class, or a
//     list file) and splits it into training and validation samples.
//   - Decode and DecodeFile turn any supported image (JPEG, PNG, GIF, BMP,
//     WebP) into 8-bit RGB with the EXIF orientation applied, refusing
//     decompression bombs before decoding.
//   - Preprocess.Apply is the one preprocessing shared by training,
//     evaluation, prediction and (in-graph, see Preprocess) export: a square
//     crop, an optional horizontal flip, an antialiased bilinear resize and the
//     VGG mean subtraction, written as float32 NHWC.
//   - Loader runs N worker goroutines that decode and preprocess in parallel
//     into one contiguous float32 buffer per batch, with a bounded prefetch
//     queue, reproducible per-epoch shuffling and augmentation, exact resume
//     mid-epoch, and context cancellation. Files that cannot be read are
//     reported in Batch.Failed and never stop a run. With a Shard, a Loader
//     prepares only its part of every batch, exactly as the whole batch
//     would have it: each task of a data-parallel run decodes its own.
//
// Nothing here needs cgo: CGO_ENABLED=0 go test ./pipeline/... runs it all.
package pipeline
