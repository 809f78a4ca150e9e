package tfgraph

import (
	"fmt"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// In-process all-reduce of the replicas' gradients with TensorFlow's own
// collective ops (CollectiveMeanGradients). Each replica fuses its
// gradients into one vector on its own device and takes part, with one
// CollectiveReduceV2 there, in one collective instance of the group of the
// replicas' devices; TensorFlow's collective executor (the DirectSession's
// local one: no server) moves the data between the devices. Which
// implementation does the reduction is TensorFlow's choice, made by its
// collective parameter resolver when the group is first resolved: NCCL
// (NcclReduce) when the devices are GPUs, the hint is "nccl" and the library
// was built with NCCL (the CUDA builds are); its ring reducer (RingReduce)
// otherwise, which is what runs on virtual CPUs.

// inProcessGroupKey and inProcessInstanceKey name the replicas' collective.
// The group key differs from collectiveGroupKey (the cluster's tasks), so
// the two kinds of group can never be taken for one another; a model's
// graph holds a single in-process collective instance.
const (
	inProcessGroupKey    = 2
	inProcessInstanceKey = 1
)

// CollectiveMeanGradients is the GradientReducer that averages the
// replicas' gradients with one in-process all-reduce (CollectiveReduceV2,
// merge Add, final Div: the mean) instead of MeanGradients' AddN on the
// first device. Replica r's gradients are flattened and concatenated on
// replica r's device (the device of its gradient ops, which buildReplicas
// puts on it), one CollectiveReduceV2 per replica reduces the fused vectors
// of all of them, and replica 0's result is split and reshaped back to
// per-variable gradients in s (the first device). The other replicas'
// results are not used, but the split depends on them (control
// dependencies): a collective completes only when every member runs, so
// every one must be in the step. With GPU devices the collective asks for
// NCCL (communication_hint "nccl"), which TensorFlow uses where its build
// has NCCL; on CPUs TensorFlow picks its ring all-reduce. No timeout: in one
// process a member cannot be lost, and a timed collective starts a timer
// thread per step.
//
// It is for the devices of one process: a cluster task's devices (names with
// "/job:") are refused, as the collective group leader would resolve every
// task's replica group under one key; cluster models keep MeanGradients
// before their all-reduce across the tasks. The gradients must be of one
// type and of static shapes (variables' gradients are).
func CollectiveMeanGradients(s *op.Scope, replicaGrads [][]tf.Output) ([]tf.Output, error) {
	R := len(replicaGrads)
	if R == 0 {
		return nil, fmt.Errorf("collective mean gradients: no replica")
	}
	n := len(replicaGrads[0])
	for r, gs := range replicaGrads {
		if len(gs) != n {
			return nil, fmt.Errorf("collective mean gradients: replica %d has %d gradients, replica 0 has %d", r, len(gs), n)
		}
	}
	if R == 1 || n == 0 {
		return replicaGrads[0], nil
	}
	devices := make([]string, R)
	for r, gs := range replicaGrads {
		for i, g := range gs {
			d := g.Op.Device()
			switch {
			case d == "":
				return nil, fmt.Errorf("collective mean gradients: replica %d's gradient %d (%s) has no device", r, i, g.Op.Name())
			case strings.Contains(d, "/job:"):
				return nil, fmt.Errorf("collective mean gradients: %s is a cluster task's device: the in-process all-reduce is for one process (use MeanGradients)", d)
			case i == 0:
				devices[r] = d
			case d != devices[r]:
				return nil, fmt.Errorf("collective mean gradients: replica %d's gradients are on %s and %s", r, devices[r], d)
			}
		}
		for q := range r {
			if devices[q] == devices[r] {
				return nil, fmt.Errorf("collective mean gradients: replicas %d and %d are both on %s", q, r, devices[r])
			}
		}
	}
	shapes := make([][]int64, n)
	sizes := make([]int64, n)
	dtype := replicaGrads[0][0].DataType()
	for i, g := range replicaGrads[0] {
		if g.DataType() != dtype {
			return nil, fmt.Errorf("collective mean gradients: gradient %d (%s) is %v, gradient 0 is %v", i, g.Op.Name(), g.DataType(), dtype)
		}
		// Not Shape.IsFullySpecified: graft's takes a dimension of 1 for unknown.
		dims, err := g.Shape().ToSlice()
		if err != nil {
			return nil, fmt.Errorf("collective mean gradients: gradient %d (%s) has an unknown rank", i, g.Op.Name())
		}
		shapes[i], sizes[i] = dims, 1
		for _, d := range dims {
			if d < 0 {
				return nil, fmt.Errorf("collective mean gradients: gradient %d (%s) has shape %v, not static", i, g.Op.Name(), g.Shape())
			}
			sizes[i] *= d
		}
	}
	var attrs []op.CollectiveReduceV2Attr
	if strings.Contains(devices[0], "GPU") {
		attrs = append(attrs, op.CollectiveReduceV2CommunicationHint("nccl"))
	}
	reduced := make([]tf.Output, R)
	for r, gs := range replicaGrads {
		rs := s.SubScope(fmt.Sprintf("replica_%d", r)).WithDevice(devices[r])
		flat := make([]tf.Output, n)
		for i, g := range gs {
			flat[i] = op.Reshape(rs.SubScope("flatten"), g, op.Const(rs.SubScope("flat_shape"), []int64{-1}))
		}
		fused := op.ConcatV2(rs.SubScope("fuse"), flat, op.Const(rs.SubScope("fuse_axis"), int32(0)))
		reduced[r] = op.CollectiveReduceV2(rs.SubScope("allreduce"), fused,
			op.Const(rs.SubScope("group_size"), int32(R)),
			op.Const(rs.SubScope("group_key"), int32(inProcessGroupKey)),
			op.Const(rs.SubScope("instance_key"), int32(inProcessInstanceKey)),
			nil, "Add", "Div", attrs...)
	}
	others := make([]*tf.Operation, 0, R-1)
	for _, o := range reduced[1:] {
		others = append(others, o.Op)
	}
	us := s.SubScope("unfuse").WithControlDependencies(others...)
	parts := op.SplitV(us, reduced[0], op.Const(us.SubScope("sizes"), sizes), op.Const(us.SubScope("axis"), int32(0)), int64(n))
	out := make([]tf.Output, n)
	for i, p := range parts {
		out[i] = op.Reshape(us.SubScope("unflatten"), p, op.Const(us.SubScope("shape"), shapes[i]))
	}
	return out, s.Err()
}
