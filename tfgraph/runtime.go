package tfgraph

import (
	"fmt"
	"slices"
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

// VirtualCPUs is the number of CPU devices a process must create for
// devices as ResolveDevices returns them (the highest cpu:N plus one), 0 for
// GPUs or none: what a cluster task's server needs (Cluster.CPUs).
func VirtualCPUs(devices []string) int {
	devs, err := parseDevices(devices)
	if err != nil {
		return 0
	}
	return virtualCPUs(devs)
}

// ResolveDevices turns a --devices spec into Config.Devices: "" is none (one
// device, Config.Device), "all" every GPU TensorFlow sees (an error when there
// is none: name CPUs explicitly), and a comma-separated list "cpu:0,cpu:1" or
// "gpu:0,gpu:1" itself, checked: well-formed, no duplicates, one device type,
// and every GPU present. CPU devices always exist: the session creates as
// many virtual CPU devices as the highest index needs. Only a spec naming
// GPUs opens a (throw-away) session to list them.
func ResolveDevices(spec string) ([]string, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, nil
	}
	if strings.EqualFold(spec, "all") {
		if !gpuBuild() {
			return nil, fmt.Errorf("devices all: there is no GPU (this libtensorflow is a CPU build); name CPU devices instead, e.g. cpu:0,cpu:1")
		}
		gpus, err := gpuNames()
		if err != nil {
			return nil, err
		}
		if len(gpus) == 0 {
			return nil, fmt.Errorf("devices all: no GPU is visible (no driver, or CUDA_VISIBLE_DEVICES hides them)")
		}
		return gpus, nil
	}
	list := strings.Split(spec, ",")
	devs, err := parseDevices(list)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(devs))
	for i, d := range devs {
		typ, idx, _ := strings.Cut(strings.TrimPrefix(d, "/device:"), ":")
		out[i] = strings.ToLower(typ) + ":" + idx
	}
	if !strings.HasPrefix(devs[0], "/device:GPU") {
		return out, nil
	}
	var gpus []string
	if gpuBuild() {
		if gpus, err = gpuNames(); err != nil {
			return nil, err
		}
	}
	why := fmt.Sprintf("%d GPUs visible", len(gpus))
	if !gpuBuild() {
		why = "this libtensorflow is a CPU build"
	}
	for _, d := range out {
		if !slices.Contains(gpus, d) {
			return nil, fmt.Errorf("devices %s: there is no %s (%s)", spec, d, why)
		}
	}
	return out, nil
}

// gpuNames lists the visible GPUs as "gpu:N".
func gpuNames() ([]string, error) {
	devs, err := ListDevices()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range devs {
		if d.Type == "GPU" {
			_, idx, _ := strings.Cut(d.Name[strings.LastIndex(d.Name, "GPU"):], ":")
			out = append(out, "gpu:"+idx)
		}
	}
	return out, nil
}
