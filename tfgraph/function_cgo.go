package tfgraph

/*
#cgo LDFLAGS: -ltensorflow
#include <stdlib.h>
#include "tensorflow/c/c_api.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// graphToFunctionDef turns a serialized GraphDef into a serialized
// FunctionDef named name whose only argument is the output 0 of the op called
// input (a placeholder, left out of the body) and whose only result is the
// output 0 of the op called output.
//
// graft wraps neither TF_GraphToFunction nor function-valued attrs, and its
// TF_Graph is unexported, so this imports the GraphDef into a private C graph.
// The FunctionDef goes into a GraphDef library by hand (see savedmodel.go).
func graphToFunctionDef(graphDef []byte, name, input, output string) ([]byte, error) {
	if len(graphDef) == 0 {
		return nil, fmt.Errorf("graph to function %s: empty GraphDef", name)
	}
	st := C.TF_NewStatus()
	defer C.TF_DeleteStatus(st)
	g := C.TF_NewGraph()
	defer C.TF_DeleteGraph(g)

	def := C.TF_NewBufferFromString(unsafe.Pointer(&graphDef[0]), C.size_t(len(graphDef)))
	defer C.TF_DeleteBuffer(def)
	opts := C.TF_NewImportGraphDefOptions()
	defer C.TF_DeleteImportGraphDefOptions(opts)
	C.TF_GraphImportGraphDef(g, def, opts, st)
	if err := statusErr("import function body "+name, st); err != nil {
		return nil, err
	}

	lookup := func(op string) (*C.TF_Operation, error) {
		c := C.CString(op)
		defer C.free(unsafe.Pointer(c))
		o := C.TF_GraphOperationByName(g, c)
		if o == nil {
			return nil, fmt.Errorf("graph to function %s: no op %q in the body", name, op)
		}
		return o, nil
	}
	in, err := lookup(input)
	if err != nil {
		return nil, err
	}
	out, err := lookup(output)
	if err != nil {
		return nil, err
	}
	// C memory: the arrays hold C pointers and are read by C.
	ios := (*[2]C.TF_Output)(C.malloc(C.size_t(unsafe.Sizeof(C.TF_Output{})) * 2))
	defer C.free(unsafe.Pointer(ios))
	ios[0] = C.TF_Output{oper: in, index: 0}
	ios[1] = C.TF_Output{oper: out, index: 0}

	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	fn := C.TF_GraphToFunction(g, cname, 0, -1, nil, 1, &ios[0], 1, &ios[1], nil, nil, nil, st)
	if err := statusErr("graph to function "+name, st); err != nil {
		return nil, err
	}
	defer C.TF_DeleteFunction(fn)

	buf := C.TF_NewBuffer()
	defer C.TF_DeleteBuffer(buf)
	C.TF_FunctionToFunctionDef(fn, buf, st)
	if err := statusErr("function to FunctionDef "+name, st); err != nil {
		return nil, err
	}
	return C.GoBytes(buf.data, C.int(buf.length)), nil
}

// statusErr turns a non-OK TF_Status into a *TFError.
func statusErr(op string, st *C.TF_Status) error {
	code := int(C.TF_GetCode(st))
	if code == 0 {
		return nil
	}
	name := fmt.Sprintf("Code(%d)", code)
	if code > 0 && code < len(tfCodeNames) {
		name = tfCodeNames[code]
	}
	return &TFError{Op: op, Code: name, Msg: C.GoString(C.TF_Message(st))}
}
