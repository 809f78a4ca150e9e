package tfgraph

/*
#include <stdlib.h>
#include "tensorflow/c/c_api.h"
*/
import "C"

import (
	"fmt"
	"unsafe"

	tf "github.com/wamuir/graft/tensorflow"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// stepTrace is where the kernels of one traced training step ran: device
// name (e.g. /job:localhost/replica:0/task:0/device:CPU:1) → the names of
// the nodes executed there, from the step's RunMetadata step stats.
type stepTrace map[string][]string

// traceTrainStep runs one training step, as TrainStep, with FULL_TRACE run
// options and returns where each kernel ran: the placement TensorFlow
// actually used, not the one the graph asked for. graft's Session.Run takes
// no RunOptions, so this calls TF_SessionRun itself on graft's session,
// operations and tensors (their C pointers are their first fields, as
// cTensor relies on; TestFreeTensors checks the tensor layout).
func (m *Model) traceTrainStep(images []float32, labels []int32, n int) (stepTrace, error) {
	f, err := m.feeds(images, labels, n)
	if err != nil {
		return nil, fmt.Errorf("trace train step: %w", err)
	}
	defer freeTensors(f)
	var ins []C.TF_Output
	var vals []*C.TF_Tensor
	for o, t := range f {
		ins = append(ins, cOutput(o))
		vals = append(vals, cTensor(t))
	}
	outs := []C.TF_Output{cOutput(m.stepAfter)}
	outVals := make([]*C.TF_Tensor, len(outs))

	ro, err := proto.Marshal(&pb.RunOptions{TraceLevel: pb.RunOptions_FULL_TRACE})
	if err != nil {
		return nil, err
	}
	opts := C.TF_NewBufferFromString(unsafe.Pointer(&ro[0]), C.size_t(len(ro)))
	defer C.TF_DeleteBuffer(opts)
	meta := C.TF_NewBuffer()
	defer C.TF_DeleteBuffer(meta)
	st := C.TF_NewStatus()
	defer C.TF_DeleteStatus(st)
	// Go slices of C pointers: allowed by cgo's rules (no Go pointers inside).
	inP, valP := (*C.TF_Output)(unsafe.Pointer(unsafe.SliceData(ins))), (**C.TF_Tensor)(unsafe.Pointer(unsafe.SliceData(vals)))
	C.TF_SessionRun(cSession(m.sess), opts, inP, valP, C.int(len(ins)),
		&outs[0], &outVals[0], C.int(len(outs)), nil, 0, meta, st)
	for _, t := range outVals {
		if t != nil {
			C.TF_DeleteTensor(t)
		}
	}
	if err := statusErr("trace train step", st); err != nil {
		return nil, err
	}
	var md pb.RunMetadata
	if err := proto.Unmarshal(C.GoBytes(meta.data, C.int(meta.length)), &md); err != nil {
		return nil, fmt.Errorf("trace train step: run metadata: %w", err)
	}
	tr := stepTrace{}
	for _, d := range md.GetStepStats().GetDevStats() {
		for _, ns := range d.GetNodeStats() {
			tr[d.GetDevice()] = append(tr[d.GetDevice()], ns.GetNodeName())
		}
	}
	return tr, nil
}

func cSession(s *tf.Session) *C.TF_Session { return *(**C.TF_Session)(unsafe.Pointer(s)) }

func cOutput(o tf.Output) C.TF_Output {
	return C.TF_Output{oper: *(**C.TF_Operation)(unsafe.Pointer(o.Op)), index: C.int(o.Index)}
}
