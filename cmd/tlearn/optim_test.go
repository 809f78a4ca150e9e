package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/rundir"
)

// TestOptimizerScheduleFlagsRecorded: the optimizer and schedule flags reach
// config.json (the warmup and step period resolved to steps), and a resume
// with another optimizer is refused, naming both.
func TestOptimizerScheduleFlagsRecorded(t *testing.T) {
	data := tinyData(t, 2, 4)
	out := filepath.Join(t.TempDir(), "run")
	args := tinyTrain(data, out, "--optimizer", "adamw", "--beta1", "0.8", "--beta2", "0.99", "--epsilon", "1e-6",
		"--schedule", "step", "--warmup-epochs", "0.5", "--step-every", "1", "--step-gamma", "0.5", "--val-split", "0", "--log-every", "1")
	for i, a := range args {
		if a == "--steps" {
			args[i+1] = "3"
		}
	}
	code, stdout, stderr := tlearn(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	// Steps 1..3 run at the LR of global steps 0..2: warmup 0, 5e-4, then
	// the step schedule's start, 1e-3.
	for _, want := range []string{"lr=0 ", "lr=0.0005 ", "lr=0.001 "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the log lacks %q:\n%s", want, stderr)
		}
	}
	c, err := rundir.ReadConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	tr := c.Train
	// 8 images, batch 2: 4 steps per epoch, so 0.5 epochs = 2 warmup steps.
	if tr.Optimizer != "adamw" || tr.Beta1 != 0.8 || tr.Beta2 != 0.99 || tr.Epsilon != 1e-6 || tr.Schedule != "step" ||
		tr.WarmupEpochs != 0.5 || tr.WarmupTotal != 2 || tr.StepEvery != 1 || tr.StepEverySteps != 4 || tr.StepGamma != 0.5 {
		t.Errorf("config.json train: %+v", tr)
	}
	args = tinyTrain(data, out, "--optimizer", "adam", "--val-split", "0")
	code, _, stderr = tlearn(t, args...)
	if code == 0 || !strings.Contains(stderr, "trained with --optimizer adamw, not adam") {
		t.Errorf("resume with another optimizer: exit %d, stderr %s", code, stderr)
	}
}
