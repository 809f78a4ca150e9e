package tfevents

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/tlearn/tlearn/internal/testenv"
)

func writeRun(t *testing.T, dir string) {
	t.Helper()
	w, err := NewWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	for step := int64(10); step <= 30; step += 10 {
		if err := w.Scalars(step, map[string]float64{"loss": 1 / float64(step), "learning_rate": 1e-3}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Scalars(30, map[string]float64{"val/top1": 0.5, "val/top5": 0.875}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir)
	got, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tag   string
		steps []int64
		last  float64
	}{
		{"loss", []int64{10, 20, 30}, 1.0 / 30},
		{"learning_rate", []int64{10, 20, 30}, 1e-3},
		{"val/top1", []int64{30}, 0.5},
		{"val/top5", []int64{30}, 0.875},
	}
	for _, tt := range tests {
		pts := got[tt.tag]
		if len(pts) != len(tt.steps) {
			t.Fatalf("%s: %d points, want %d", tt.tag, len(pts), len(tt.steps))
		}
		for i, s := range tt.steps {
			if pts[i].Step != s {
				t.Errorf("%s[%d].Step = %d, want %d", tt.tag, i, pts[i].Step, s)
			}
		}
		if v := pts[len(pts)-1].Value; math.Abs(v-tt.last) > 1e-6*math.Max(1, tt.last) {
			t.Errorf("%s last = %v, want %v", tt.tag, v, tt.last)
		}
	}
}

func TestResumeDropsRelogged(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir) // steps 10, 20, 30; suppose it crashed after 30 with a checkpoint at 20
	w, err := NewWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SessionStart(20); err != nil {
		t.Fatal(err)
	}
	for _, s := range []int64{20, 30, 40} {
		if err := w.Scalars(s, map[string]float64{"loss": float64(s)}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	got, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var steps []int64
	for _, p := range got["loss"] {
		steps = append(steps, p.Step)
	}
	want := []int64{10, 20, 30, 40}
	if len(steps) != len(want) {
		t.Fatalf("loss steps %v, want %v", steps, want)
	}
	for i := range want {
		if steps[i] != want[i] {
			t.Fatalf("loss steps %v, want %v", steps, want)
		}
	}
	if got["loss"][1].Value != 20 {
		t.Errorf("step 20 kept the crashed attempt's value %v", got["loss"][1].Value)
	}
}

func TestTruncatedTailIsNotAnError(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir)
	files, _ := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	b, _ := os.ReadFile(files[0])
	os.WriteFile(files[0], b[:len(b)-7], 0o644)
	got, err := ReadScalars(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(got["loss"]) != 3 || len(got["val/top1"]) != 0 {
		t.Errorf("after truncating the last record: %d loss, %d val/top1 points", len(got["loss"]), len(got["val/top1"]))
	}
}

// TestTensorBoardReadsOurFiles checks the files with TensorBoard's own reader
// (EventAccumulator), the code behind `tensorboard --logdir`.
func TestTensorBoardReadsOurFiles(t *testing.T) {
	py := testenv.Python(t)
	_ = py
	dir := t.TempDir()
	writeRun(t, dir)
	script := `
import json, sys
from tensorboard.backend.event_processing import event_accumulator as ea
acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0})
acc.Reload()
out = {tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
print(json.dumps(out))
`
	out := testenv.RunPython(t, "-c", script, dir)
	var got map[string][][2]float64
	if err := json.Unmarshal(lastLine(out), &got); err != nil {
		t.Fatalf("parse %s: %v", out, err)
	}
	if len(got["loss"]) != 3 || got["loss"][2][0] != 30 || math.Abs(got["loss"][2][1]-1.0/30) > 1e-6 {
		t.Errorf("TensorBoard read loss = %v", got["loss"])
	}
	if len(got["val/top1"]) != 1 || got["val/top1"][0] != [2]float64{30, 0.5} {
		t.Errorf("TensorBoard read val/top1 = %v", got["val/top1"])
	}
}

func lastLine(b []byte) []byte {
	lines := splitLines(b)
	for i := len(lines) - 1; i >= 0; i-- {
		if len(lines[i]) > 0 {
			return lines[i]
		}
	}
	return nil
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, b[start:i])
			start = i + 1
		}
	}
	return append(out, b[start:])
}
