package train

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/rundir"
	"github.com/tlearn/tlearn/tfgraph"
)

// TestDevicesMatchOneDevice: the same training command on one device and
// with --devices cpu:0,cpu:1 (dropout off) ends with the same weights and
// momentum slots within 1e-4 relative: the Go pipeline feeds the same global
// batches and the two replicas' averaged gradients are the whole batch's.
// config.json records the devices, and a resume on one device is allowed and
// recorded as a change.
func TestDevicesMatchOneDevice(t *testing.T) {
	data := newDataset(t)
	run := func(name, device, devices string, steps int64) string {
		o := smallOptions(t, data, filepath.Join(t.TempDir(), name))
		o.Steps, o.DropoutKeep, o.EvalEvery = steps, 1, 1000
		o.Device, o.Devices = device, devices
		if _, err := Run(context.Background(), o); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return o.Out
	}
	one, two := run("one", "cpu", "", 4), run("two", "", "cpu:0,cpu:1", 4)

	cfg := tfgraph.DefaultConfig("vgg_mini", 3)
	cfg.InputSize, cfg.Device = 32, "cpu"
	m, err := tfgraph.NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	read := func(dir string) map[string][]float32 {
		if err := m.RestoreCheckpoint(filepath.Join(dir, "model.ckpt-4")); err != nil {
			t.Fatal(err)
		}
		vals := map[string][]float32{}
		for _, v := range m.Variables() {
			for _, n := range []string{v.Name, v.Name + "/Momentum"} {
				if x, _, err := m.ReadVariable(n); err == nil {
					vals[n] = x
				}
			}
		}
		return vals
	}
	want, got := read(one), read(two)
	if slot := want["vgg_mini/conv1/conv1_1/weights/Momentum"]; len(slot) == 0 || slot[0] == 0 {
		t.Fatalf("conv1_1's momentum slot is %v after 4 steps: training did not run, the comparison proves nothing", slot[:min(len(slot), 1)])
	}
	worst := 0.0
	for n, w := range want {
		var maxDiff, maxRef float64
		for i := range w {
			maxDiff = math.Max(maxDiff, math.Abs(float64(got[n][i])-float64(w[i])))
			maxRef = math.Max(maxRef, math.Abs(float64(w[i])))
		}
		if e := maxDiff / math.Max(maxRef, 1e-30); e > worst {
			worst = e
		}
		if maxDiff > 1e-4*maxRef {
			t.Errorf("%s: two replicas differ from one device by %.3g relative", n, maxDiff/maxRef)
		}
	}
	t.Logf("worst relative difference over %d variables and slots: %.2g", len(want), worst)

	c, err := rundir.ReadConfig(two)
	if err != nil {
		t.Fatal(err)
	}
	if c.Train.Devices != "cpu:0,cpu:1" {
		t.Errorf("config.json devices = %q, want cpu:0,cpu:1", c.Train.Devices)
	}
	// Resume the two-replica run on one device: allowed, and recorded.
	o := smallOptions(t, data, two)
	o.Steps, o.DropoutKeep, o.EvalEvery, o.Device = 5, 1, 1000, "cpu"
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatalf("resume on one device: %v", err)
	}
	c, _ = rundir.ReadConfig(two)
	found := false
	for _, ch := range c.Changes {
		if ch.Key == "devices" && ch.From == "cpu:0,cpu:1" && ch.To == "one device" {
			found = true
		}
	}
	if !found || c.Train.Devices != "" {
		t.Errorf("resume on one device: changes %+v, devices %q", c.Changes, c.Train.Devices)
	}
}

// TestDevicesUsageErrors: a batch that does not split, unknown devices, GPUs
// that are not there and --device with --devices are usage errors.
func TestDevicesUsageErrors(t *testing.T) {
	data := newDataset(t)
	for _, tc := range []struct {
		devices, device string
		batch           int
		want            string
	}{
		{"cpu:0,cpu:1", "", 3, "does not split evenly"},
		{"cpu:0,tpu:1", "", 8, "want cpu:N or gpu:N"},
		{"cpu:0,cpu:0", "", 8, "given twice"},
		{"gpu:0,gpu:1", "", 8, "there is no gpu:0"},
		{"cpu:0,cpu:1", "cpu", 8, "not both"},
	} {
		o := smallOptions(t, data, filepath.Join(t.TempDir(), "run"))
		o.Devices, o.Device, o.Batch = tc.devices, tc.device, tc.batch
		_, err := Run(context.Background(), o)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--devices %s --device %q --batch %d: err %v, want a usage error with %q", tc.devices, tc.device, tc.batch, err, tc.want)
		}
	}
}
