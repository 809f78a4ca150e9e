package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/rundir"
)

// TestTrainDevicesFlag: --devices reaches training (config.json records it)
// and its mistakes are usage errors (exit 2) that say what to change.
func TestTrainDevicesFlag(t *testing.T) {
	data := tinyData(t, 2, 4)
	out := filepath.Join(t.TempDir(), "run")
	if code, stdout, stderr := tlearn(t, tinyTrain(data, out, "--devices", "cpu:0,cpu:1")...); code != 0 {
		t.Fatalf("--devices cpu:0,cpu:1: exit %d\n%s\n%s", code, stdout, stderr)
	}
	c, err := rundir.ReadConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	if c.Train.Devices != "cpu:0,cpu:1" {
		t.Errorf("config.json devices = %q", c.Train.Devices)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--devices", "cpu:0,cpu:1", "--batch", "3"}, "multiple of 2"},
		{[]string{"--devices", "gpu:0,gpu:1"}, "there is no gpu:0"},
		{[]string{"--devices", "cpu0"}, "want cpu:N or gpu:N"},
		{[]string{"--devices", "cpu:0,cpu:1", "--device", "cpu"}, "not both"},
	} {
		args := tinyTrain(data, filepath.Join(t.TempDir(), "bad"), tc.args...)
		code, _, stderr := tlearn(t, args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d with %q", tc.args, code, stderr, exitUsage, tc.want)
		}
	}
}
