package tfgraph

import (
	"fmt"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// Device is one compute device that a TensorFlow session can place ops on.
type Device struct {
	Name        string `json:"name"`         // e.g. /job:localhost/replica:0/task:0/device:CPU:0
	Type        string `json:"type"`         // CPU, GPU, ...
	MemoryBytes int64  `json:"memory_bytes"` // 0 when TensorFlow does not report it
}

// Version returns the version string of the linked libtensorflow (TF_Version).
func Version() string { return tf.Version() }

// ListDevices opens a throw-away session on an empty graph and returns the
// devices TensorFlow sees: the CPU always, GPUs when libtensorflow is a GPU
// build and a driver is present.
func ListDevices() ([]Device, error) {
	s := op.NewScope()
	op.Const(s, int32(0))
	g, err := s.Finalize()
	if err != nil {
		return nil, fmt.Errorf("list devices: build graph: %w", err)
	}
	sess, err := tf.NewSession(g, nil)
	if err != nil {
		return nil, fmt.Errorf("list devices: new session: %w", err)
	}
	defer sess.Close()
	devs, err := sess.ListDevices()
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	out := make([]Device, 0, len(devs))
	for _, d := range devs {
		out = append(out, Device{Name: d.Name, Type: strings.ToUpper(d.Type), MemoryBytes: d.MemoryLimitBytes})
	}
	return out, nil
}

// CheckDevice reports whether device ("", "cpu", "gpu:N") exists here. TensorFlow
// with soft placement silently runs a missing GPU's ops on the CPU (logging
// hundreds of colocation warnings); callers that did not ask for that fallback
// refuse early with this error instead.
func CheckDevice(device string) error {
	dev, err := parseDevice(device)
	if err != nil || !strings.Contains(dev, "GPU") {
		return err
	}
	devs, err := ListDevices()
	if err != nil {
		return err
	}
	gpus := 0
	for _, d := range devs {
		if d.Type == "GPU" {
			if strings.HasSuffix(d.Name, strings.TrimPrefix(dev, "/device")) {
				return nil
			}
			gpus++
		}
	}
	if gpus == 0 {
		return fmt.Errorf("device %s: there is no GPU (this libtensorflow is a CPU build or no GPU driver is visible)", device)
	}
	return fmt.Errorf("device %s: no such GPU (%d visible)", device, gpus)
}
