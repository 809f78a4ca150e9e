package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/rundir"
)

// withSteps returns args with --steps set to n.
func withSteps(args []string, n string) []string {
	for i, a := range args {
		if a == "--steps" {
			args[i+1] = n
		}
	}
	return args
}

// TestRecipeFlagsRecorded: --augment, --color-jitter, --label-smoothing,
// --clip-norm and --patience reach config.json, the run's config.json given
// back as --config trains with the same settings, and a resume that changes
// them logs and records each change.
func TestRecipeFlagsRecorded(t *testing.T) {
	data := tinyData(t, 2, 4)
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := tlearn(t, tinyTrain(data, out, "--augment", "inception", "--color-jitter", "0.3",
		"--label-smoothing", "0.1", "--clip-norm", "5", "--patience", "3")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	c, err := rundir.ReadConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	if c.Preprocess.Augment != "inception" || c.Preprocess.ColorJitter != 0.3 || c.Train.LabelSmoothing != 0.1 ||
		c.Train.ClipNorm != 5 || c.Train.Patience != 3 {
		t.Errorf("config.json: preprocess %+v, label_smoothing %g clip_norm %g patience %d",
			c.Preprocess, c.Train.LabelSmoothing, c.Train.ClipNorm, c.Train.Patience)
	}
	second := filepath.Join(t.TempDir(), "second")
	code, stdout, stderr = tlearn(t, "train", "--config", filepath.Join(out, rundir.ConfigFile), "--out", second,
		"--steps", "1", "--threads", "2", "--workers", "2")
	if code != 0 {
		t.Fatalf("--config RUN/config.json: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if b, err := rundir.ReadConfig(second); err != nil || !reflect.DeepEqual(b.Preprocess, c.Preprocess) || !reflect.DeepEqual(b.Train, c.Train) {
		t.Errorf("the second run differs from the config.json it was given (%v):\nfirst:  %+v %+v\nsecond: %+v %+v", err, c.Preprocess, c.Train, b.Preprocess, b.Train)
	}
	code, stdout, stderr = tlearn(t, withSteps(tinyTrain(data, out, "--augment", "flip", "--color-jitter", "0.3",
		"--label-smoothing", "0", "--clip-norm", "1", "--patience", "3"), "2")...)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"setting=--augment from=inception to=flip", "setting=--label-smoothing from=0.1 to=0", "setting=--clip-norm from=5 to=1"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the resume does not log %q:\n%s", want, stderr)
		}
	}
	c, _ = rundir.ReadConfig(out)
	keys := map[string]bool{}
	for _, ch := range c.Changes {
		keys[ch.Key] = true
	}
	if !keys["augment"] || !keys["label-smoothing"] || !keys["clip-norm"] || keys["color-jitter"] || keys["patience"] || c.Preprocess.Augment != "flip" {
		t.Errorf("config.json: augment %q, changes %+v; want augment flip and changes of augment, label-smoothing, clip-norm only", c.Preprocess.Augment, c.Changes)
	}
}

// TestRecipeFlagsRefused: values that cannot work are usage errors (exit 2)
// naming the flag.
func TestRecipeFlagsRefused(t *testing.T) {
	data := tinyData(t, 2, 4)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--augment", "mixup"}, `unknown augment "mixup"`},
		{[]string{"--augment", "inception", "--preprocess", "vgg"}, `augment "inception" is a crop of its own`},
		{[]string{"--augment", "none", "--color-jitter", "0.2"}, "color jitter 0.2 with augment none"},
		{[]string{"--color-jitter", "2"}, "color jitter 2 must be in [0, 1]"},
		{[]string{"--label-smoothing", "1"}, "--label-smoothing must be in [0, 1)"},
		{[]string{"--clip-norm", "-1"}, "--clip-norm must be a finite number >= 0"},
		{[]string{"--patience", "-1"}, "--patience must be >= 0"},
		{[]string{"--patience", "2", "--val-split", "0"}, "--patience 2 needs validations"},
	} {
		code, _, stderr := tlearn(t, tinyTrain(data, filepath.Join(t.TempDir(), "r"), tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestPatienceStopsEarly: at a learning rate too small to change top-1,
// --patience 2 with a validation every step stops after the 2 validations
// that follow the first (best) one, at step 3 of 20, says so, keeps best/ at
// step 1 and a checkpoint at step 3; the same command again stops at once;
// a larger --patience continues from there and stops 2 steps later.
func TestPatienceStopsEarly(t *testing.T) {
	data := tinyData(t, 2, 6)
	out := filepath.Join(t.TempDir(), "run")
	args := withSteps(tinyTrain(data, out, "--lr", "1e-9", "--lr-end", "0", "--val-split", "0.5", "--eval-every", "1", "--patience", "2"), "20")
	code, stdout, stderr := tlearn(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "stopped early at step 3 of 20: no better validation top-1") || !strings.Contains(stderr, "early stopping: no better validation top-1") {
		t.Fatalf("no early stop at step 3:\nstdout: %s\nstderr: %s", stdout, stderr)
	}
	best, ok, err := rundir.ReadBest(out)
	if err != nil || !ok || best.Step != 1 {
		t.Errorf("best.json: %+v (found %v, %v), want step 1", best, ok, err)
	}
	if _, err := os.Stat(filepath.Join(out, "model.ckpt-3.index")); err != nil {
		t.Errorf("no checkpoint at the stopping step: %v", err)
	}
	code, stdout, stderr = tlearn(t, args...)
	if code != 0 || !strings.Contains(stdout, "stopped early at step 3 of 20") || !strings.Contains(stderr, "the run had already stopped early") {
		t.Errorf("rerun: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if strings.Contains(stderr, "checkpoint saved") {
		t.Errorf("the rerun that trains nothing saved a checkpoint again:\n%s", stderr)
	}
	for i, a := range args {
		if a == "--patience" {
			args[i+1] = "4"
		}
	}
	code, stdout, stderr = tlearn(t, args...)
	if code != 0 || !strings.Contains(stdout, "stopped early at step 5 of 20") || !strings.Contains(stderr, "setting=--patience from=2 to=4") {
		t.Errorf("--patience 4: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}
