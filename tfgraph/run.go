package tfgraph

/*
#include <stdlib.h>
#include "tensorflow/c/c_api.h"
*/
import "C"

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	tf "github.com/wamuir/graft/tensorflow"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// StepResult is what one training step reports.
type StepResult struct {
	Step         int64   // global step after the update
	Loss         float32 // mean cross-entropy of the batch (before the update)
	TotalLoss    float32 // Loss + the L2 weight decay terms
	LearningRate float32 // learning rate used by this update
	// LossScale is the loss scale this step used (fp16 training; 0
	// otherwise). Skipped reports that its gradients overflowed: no
	// variable changed but the global step and the scale (halved).
	LossScale float32
	Skipped   bool
	// HeadOnly reports a step of the head phase (Config.HeadSteps): only
	// the head changed. LearningRateBody is the body's learning rate in a
	// full step (LearningRate·BodyLRMult), 0 in a head-only one.
	HeadOnly         bool
	LearningRateBody float32
	// NoteSum is, for a cluster model, the sum over the tasks of the notes
	// they gave TrainStepNote with this step (the same on every task); 0
	// otherwise.
	NoteSum float32
}

// EvalResult is the evaluation of one batch (eval path: no dropout).
type EvalResult struct {
	Loss        float32     // mean cross-entropy (no L2)
	Top1, Top5  int         // number of images whose label is the top-1 / among the top-5
	Predictions []int32     // top-1 class per image
	Probs       [][]float32 // softmax probabilities [n][NumClasses]
}

// cpuInterOpThreads is the inter-op pool size used when the graph runs on the
// CPU and Config.InterOpThreads is 0. TensorFlow's own default (one thread per
// core) lets independent heavy kernels — a conv's input and filter gradients,
// the two forward paths' branches — run at once, each spreading over the whole
// intra-op pool with oneDNN: on 2 cores that oversubscription made a VGG19
// training step 2.1× slower (14 s → 6.6 s at batch 16, bench/profile_graph.py
// --inter 1) and inference slower too. One inter-op thread runs one kernel at a
// time over all cores, as Intel advises for oneDNN (inter-op = sockets).
const cpuInterOpThreads = 1

// gpuBuild reports whether the linked libtensorflow has GPU kernels (a CUDA
// build), from its kernel registry. It does not open a session: the first
// session of a process fixes the sizes of TensorFlow's global thread pools,
// and that must be the model's own, with its thread options.
var gpuBuild = sync.OnceValue(func() bool {
	st := C.TF_NewStatus()
	defer C.TF_DeleteStatus(st)
	name := C.CString("Conv2D")
	defer C.free(unsafe.Pointer(name))
	buf := C.TF_GetRegisteredKernelsForOp(name, st)
	if buf == nil {
		return false
	}
	defer C.TF_DeleteBuffer(buf)
	if C.TF_GetCode(st) != C.TF_OK {
		return false
	}
	// A serialized KernelList: each KernelDef carries its device_type string.
	return bytes.Contains(C.GoBytes(buf.data, C.int(buf.length)), []byte("GPU"))
})

func sessionOptions(cfg Config) (*tf.SessionOptions, error) {
	dev, _ := parseDevice(cfg.Device)
	devs, _ := parseDevices(cfg.Devices)
	cpus := virtualCPUs(devs)
	if cpus > 0 {
		dev = "/device:CPU:0"
	}
	inter := cfg.InterOpThreads
	if inter == 0 && (dev == "/device:CPU:0" || dev == "" && !gpuBuild()) {
		inter = cpuInterOpThreads
	}
	cp := &pb.ConfigProto{
		IntraOpParallelismThreads: int32(cfg.IntraOpThreads),
		InterOpParallelismThreads: int32(inter),
		AllowSoftPlacement:        cfg.SoftPlacement,
		GpuOptions:                &pb.GPUOptions{AllowGrowth: cfg.GPUMemoryGrowth},
	}
	if err := cfg.checkPrecision(); err != nil {
		return nil, err
	}
	switch cfg.Precision {
	case PrecisionBF16:
		cp.GraphOptions = &pb.GraphOptions{RewriteOptions: &pb.RewriterConfig{
			AutoMixedPrecisionOnednnBfloat16: pb.RewriterConfig_ON}}
	case PrecisionFP16:
		rw := &pb.RewriterConfig{AutoMixedPrecision: pb.RewriterConfig_ON}
		if !cfg.onGPUs() {
			rw = &pb.RewriterConfig{AutoMixedPrecisionCpu: pb.RewriterConfig_ON}
		}
		cp.GraphOptions = &pb.GraphOptions{RewriteOptions: rw}
	}
	if dev == "/device:CPU:0" {
		// Hide GPUs so that every op, gradients included, runs on the CPU.
		cp.DeviceCount = map[string]int32{"GPU": 0}
	}
	if cpus > 1 {
		cp.DeviceCount["CPU"] = int32(cpus) // virtual CPU devices for the replicas
	}
	target := ""
	if c := cfg.Cluster; c != nil {
		// The session runs on this task's server, on this task's devices
		// only, task 0 leading the collectives.
		sc := c.cluster.sessionConfig()
		cp.Experimental, cp.DeviceFilters = sc.Experimental, sc.DeviceFilters
		target = c.target
	}
	b, err := proto.Marshal(cp)
	if err != nil {
		return nil, fmt.Errorf("session config: %w", err)
	}
	return &tf.SessionOptions{Target: target, Config: b}, nil
}

// imageTensor copies the first n images of the caller's NHWC buffer into one
// TF tensor with a single memcpy. The caller frees it (freeTensors) after Run.
func (m *Model) imageTensor(images []float32, n int) (*tf.Tensor, error) {
	return batchTensor(images, n, m.cfg.InputSize)
}

// batchTensor is imageTensor for any input side S.
func batchTensor(images []float32, n, S int) (*tf.Tensor, error) {
	need := n * S * S * 3
	if n < 1 {
		return nil, fmt.Errorf("batch of %d images: need at least 1", n)
	}
	if len(images) < need {
		return nil, fmt.Errorf("image buffer has %d floats, %d images of %d×%d×3 need %d", len(images), n, S, S, need)
	}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&images[0])), need*4)
	return tf.ReadTensor(tf.Float, []int64{int64(n), int64(S), int64(S), 3}, bytes.NewReader(raw))
}

// freeTensors releases the C memory of tensors that are no longer needed
// (fed inputs after Run, fetched outputs after Value) at once. graft frees a
// TF_Tensor only in its finalizer, which runs when Go's garbage collector
// happens to collect: the C buffers (a 224-px batch of 16 is 9.6 MB) are
// invisible to the collector's pacing, so a long predict or train run held
// hundreds of MB of dead batches between collections. graft v0.10.0 keeps the
// *C.TF_Tensor as the first field of Tensor (TestFreeTensors checks this layout
// against TF_TensorByteSize).
func freeTensors[T comparable](ts map[T]*tf.Tensor, more ...*tf.Tensor) {
	for _, t := range ts {
		freeTensor(t)
	}
	for _, t := range more {
		freeTensor(t)
	}
}

func freeTensor(t *tf.Tensor) {
	if t == nil {
		return
	}
	runtime.SetFinalizer(t, nil)
	C.TF_DeleteTensor(cTensor(t))
}

func cTensor(t *tf.Tensor) *C.TF_Tensor { return *(**C.TF_Tensor)(unsafe.Pointer(t)) }

func (m *Model) labelTensor(labels []int32, n int) (*tf.Tensor, error) {
	if len(labels) < n {
		return nil, fmt.Errorf("%d labels for %d images", len(labels), n)
	}
	for i, l := range labels[:n] {
		if l < 0 || int(l) >= m.cfg.NumClasses {
			return nil, fmt.Errorf("label %d of image %d is outside 0..%d", l, i, m.cfg.NumClasses-1)
		}
	}
	return tf.NewTensor(labels[:n])
}

func (m *Model) feeds(images []float32, labels []int32, n int) (map[tf.Output]*tf.Tensor, error) {
	if m.sess == nil {
		return nil, fmt.Errorf("model is closed")
	}
	it, err := m.imageTensor(images, n)
	if err != nil {
		return nil, err
	}
	f := map[tf.Output]*tf.Tensor{m.images: it}
	if labels != nil {
		lt, err := m.labelTensor(labels, n)
		if err != nil {
			return nil, err
		}
		f[m.labels] = lt
	}
	return f, nil
}

// TrainStep runs one optimizer update on the first n images (NHWC float32,
// n*S*S*3 values) and labels in one Session.Run and returns the batch loss
// (computed before the update) and the new global step.
//
// A cluster model (Config.Cluster) is given only its task's shard of the
// global batch — the task's contiguous global/tasks positions, as a
// pipeline.Loader with a Shard yields them — and every task must give the
// same n: the gradients and losses are averaged over the tasks, so the
// update is the global batch's.
func (m *Model) TrainStep(images []float32, labels []int32, n int) (StepResult, error) {
	return m.TrainStepNote(images, labels, n, 0)
}

// TrainStepNote is TrainStep that, on a cluster model, also sums note over
// the tasks in the step's own all-reduce, at no extra round trip
// (StepResult.NoteSum): train notes the bad files a task met for the first
// time, so that every task learns in the same step whether any did. On other
// models note is ignored.
func (m *Model) TrainStepNote(images []float32, labels []int32, n int, note float32) (StepResult, error) {
	if m.stepAfter == (tf.Output{}) {
		return StepResult{}, fmt.Errorf("train step: model was built ForInference")
	}
	if r := len(m.devices); r > 0 && n%r != 0 {
		return StepResult{}, fmt.Errorf("train step: batch of %d does not split evenly over %d devices", n, r)
	}
	f, err := m.feeds(images, labels, n)
	if err != nil {
		return StepResult{}, fmt.Errorf("train step: %w", err)
	}
	headOnly := m.at < m.cfg.HeadSteps
	fetches := []tf.Output{m.trainLoss, m.totalLoss, m.lr, m.stepAfter, m.lrBody}
	scaleAt, noteAt := -1, -1
	noteSum := m.noteSum
	if headOnly {
		fetches = []tf.Output{m.headLoss, m.headTotal, m.lr, m.headStepAfter}
		noteSum = m.headNoteSum
	} else if m.lossScale != (tf.Output{}) {
		scaleAt = len(fetches)
		fetches = append(fetches, m.lossScale, m.finite)
	}
	if noteSum != (tf.Output{}) {
		noteAt = len(fetches)
		fetches = append(fetches, noteSum)
		if note != 0 {
			t, err := tf.NewTensor(note)
			if err != nil {
				freeTensors(f)
				return StepResult{}, fmt.Errorf("train step: note: %w", err)
			}
			f[m.note] = t
		}
	}
	out, err := m.sess.Run(f, fetches, nil)
	freeTensors(f)
	if err != nil {
		if c := m.cfg.Cluster; c != nil {
			return StepResult{}, c.collectiveErr(fmt.Sprintf("all-reduce of task %d's gradients", c.cluster.Task), err)
		}
		return StepResult{}, tfErr("train step", err)
	}
	defer freeTensors[int](nil, out...)
	r := StepResult{
		Loss: out[0].Value().(float32), TotalLoss: out[1].Value().(float32),
		LearningRate: out[2].Value().(float32), Step: out[3].Value().(int64), HeadOnly: headOnly,
	}
	m.at = r.Step
	if !headOnly {
		r.LearningRateBody = out[4].Value().(float32)
	}
	if scaleAt >= 0 {
		r.LossScale, r.Skipped = out[scaleAt].Value().(float32), !out[scaleAt+1].Value().(bool)
	}
	if noteAt >= 0 {
		r.NoteSum = out[noteAt].Value().(float32)
	}
	return r, nil
}

// Evaluate runs the eval path (no dropout) on the first n images and labels.
func (m *Model) Evaluate(images []float32, labels []int32, n int) (EvalResult, error) {
	f, err := m.feeds(images, labels, n)
	if err != nil {
		return EvalResult{}, fmt.Errorf("evaluate: %w", err)
	}
	out, err := m.sess.Run(f, []tf.Output{m.evalLoss, m.top1, m.top5, m.preds, m.probs}, nil)
	freeTensors(f)
	if err != nil {
		return EvalResult{}, tfErr("evaluate", err)
	}
	defer freeTensors[int](nil, out...)
	return EvalResult{
		Loss: out[0].Value().(float32), Top1: int(out[1].Value().(int32)), Top5: int(out[2].Value().(int32)),
		Predictions: out[3].Value().([]int32), Probs: out[4].Value().([][]float32),
	}, nil
}

// Predict returns softmax probabilities [n][NumClasses] for the first n images.
func (m *Model) Predict(images []float32, n int) ([][]float32, error) {
	return m.run1("predict", images, n, m.probs)
}

// Logits returns the logits [n][NumClasses] for the first n images (eval path).
func (m *Model) Logits(images []float32, n int) ([][]float32, error) {
	return m.run1("logits", images, n, m.logits)
}

func (m *Model) run1(what string, images []float32, n int, fetch tf.Output) ([][]float32, error) {
	f, err := m.feeds(images, nil, n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := m.sess.Run(f, []tf.Output{fetch}, nil)
	freeTensors(f)
	if err != nil {
		return nil, tfErr(what, err)
	}
	defer freeTensors[int](nil, out...)
	return out[0].Value().([][]float32), nil
}

// GlobalStep returns the number of training steps taken (restored with checkpoints).
func (m *Model) GlobalStep() (int64, error) {
	if m.sess == nil {
		return 0, fmt.Errorf("global step: model is closed")
	}
	out, err := m.sess.Run(nil, []tf.Output{m.step.Read}, nil)
	if err != nil {
		return 0, tfErr("global step", err)
	}
	return out[0].Value().(int64), nil
}

// ReadVariable returns the current value of the variable called name
// (model variable, "<var>/Momentum" slot or "global_step") flattened in
// row-major order, with its shape. global_step is returned as float32.
func (m *Model) ReadVariable(name string) ([]float32, []int64, error) {
	v, ok := m.byName[name]
	if !ok {
		return nil, nil, fmt.Errorf("read variable: no variable %q", name)
	}
	out, err := m.sess.Run(nil, []tf.Output{v.Read}, nil)
	if err != nil {
		return nil, nil, tfErr("read variable "+name, err)
	}
	if v.DType == tf.Int64 {
		return []float32{float32(out[0].Value().(int64))}, nil, nil
	}
	var buf bytes.Buffer
	if _, err := out[0].WriteContentsTo(&buf); err != nil {
		return nil, nil, err
	}
	vals := make([]float32, buf.Len()/4)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vals))), len(vals)*4), buf.Bytes())
	return vals, out[0].Shape(), nil
}

// tensorByteSize is TF_TensorByteSize through cTensor (for the layout test).
func tensorByteSize(t *tf.Tensor) int { return int(C.TF_TensorByteSize(cTensor(t))) }
