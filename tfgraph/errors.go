package tfgraph

/*
#cgo LDFLAGS: -ltensorflow
#include <tensorflow/c/tf_status.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
)

// TFError is a TensorFlow status error with TensorFlow's code kept, e.g.
// Code "NotFound" or "InvalidArgument". Op says what tlearn was doing.
type TFError struct {
	Op   string // e.g. "train step", "restore"
	Code string // TensorFlow's error code name ("Unknown" if it could not be read)
	Msg  string // TensorFlow's message
}

func (e *TFError) Error() string { return fmt.Sprintf("%s: %s: %s", e.Op, e.Code, e.Msg) }

// tfCodeNames follows tensorflow/c/tf_status.h (TF_Code).
var tfCodeNames = [...]string{"OK", "Cancelled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
	"AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
	"Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"}

// tfErr wraps a graft error as *TFError (nil stays nil).
func tfErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var te *TFError
	if errors.As(err, &te) {
		return err
	}
	return &TFError{Op: op, Code: statusCode(err), Msg: err.Error()}
}

// statusCode reads TF_GetCode from graft's unexported *statusError, whose
// only field is the *C.TF_Status (graft keeps the code but does not export
// it). Anything else is "Unknown".
func statusCode(err error) string {
	v := reflect.ValueOf(err)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Type().String() != "*tensorflow.statusError" {
		return "Unknown"
	}
	st := v.Elem()
	if st.Kind() != reflect.Struct || st.NumField() != 1 || st.Field(0).Kind() != reflect.Pointer {
		return "Unknown"
	}
	p := (*C.TF_Status)(st.Field(0).UnsafePointer())
	if p == nil {
		return "Unknown"
	}
	code := int(C.TF_GetCode(p))
	runtime.KeepAlive(err)
	if code >= 0 && code < len(tfCodeNames) {
		return tfCodeNames[code]
	}
	return fmt.Sprintf("Code(%d)", code)
}
