package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/internal/testdata"
	"github.com/tlearn/tlearn/rundir"
)

// tinyData writes a generated dataset of classes classes × perClass 36-px
// images and returns its folder.
func tinyData(t *testing.T, classes, perClass int) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	testdata.Folders(t, data, classes, perClass, 36, 3)
	return data
}

// tinyTrain is the leanest training command line: vgg_mini at 32 px, 1 step.
func tinyTrain(data, out string, extra ...string) []string {
	return append([]string{"train", "--data", data, "--out", out, "--arch", "vgg_mini", "--input-size", "32",
		"--weights", "none", "--batch", "2", "--steps", "1", "--threads", "2", "--workers", "2"}, extra...)
}

// TestExplicitZeroIsUsed: a 0 given as a flag, a TLEARN_* variable or a
// --config key is trained with and recorded in config.json, never replaced
// by the recipe's default (issue 15 item 2).
func TestExplicitZeroIsUsed(t *testing.T) {
	data := tinyData(t, 2, 4)
	zeros := []string{"weight-decay", "momentum", "lr-end", "val-split", "margin"}
	for _, source := range []string{"flag", "env", "config"} {
		t.Run(source, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			args := tinyTrain(data, out)
			switch source {
			case "flag":
				for _, k := range zeros {
					args = append(args, "--"+k, "0")
				}
			case "env":
				for _, k := range zeros {
					t.Setenv("TLEARN_"+strings.ToUpper(strings.ReplaceAll(k, "-", "_")), "0")
				}
			case "config":
				cfg := filepath.Join(t.TempDir(), "cfg.yaml")
				var b strings.Builder
				for _, k := range zeros {
					b.WriteString(k + ": 0.0\n")
				}
				os.WriteFile(cfg, []byte(b.String()), 0o644)
				args = append(args, "--config", cfg)
			}
			code, stdout, stderr := tlearn(t, args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			c, err := rundir.ReadConfig(out)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{"weight-decay": c.Train.WeightDecay, "momentum": c.Train.Momentum,
				"lr-end": c.Train.LREnd, "val-split": c.Train.ValSplit, "margin": float64(c.Preprocess.Margin)}
			for k, v := range got {
				if v != 0 {
					t.Errorf("--%s 0 from the %s: config.json records %g", k, source, v)
				}
			}
			if c.Train.ValImages != 0 {
				t.Errorf("--val-split 0: %d validation images, want none", c.Train.ValImages)
			}
		})
	}
}

// TestExplicitInvalidZeroIsRefused: a 0 that cannot work is a usage error
// naming the flag (exit 2), not the default in disguise.
func TestExplicitInvalidZeroIsRefused(t *testing.T) {
	data := tinyData(t, 2, 4)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--lr", "0"}, "--lr must be > 0"},
		{[]string{"--dropout-keep", "0"}, "--dropout-keep must be in (0, 1]"},
		{[]string{"--batch", "0"}, "--batch must be at least 1"},
		{[]string{"--steps", "0", "--epochs", "0"}, "--epochs must be at least 1"},
		{[]string{"--input-size", "0"}, "input size 0"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			code, _, stderr := tlearn(t, tinyTrain(data, out, tc.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a refused run left %s behind", out)
			}
		})
	}
}

// TestPredictZeroTopKRefused: predict --top-k 0 (or --batch 0) is a usage
// error, not 5 classes per image.
func TestPredictZeroTopKRefused(t *testing.T) {
	data := tinyData(t, 2, 4)
	out := filepath.Join(t.TempDir(), "run")
	if code, stdout, stderr := tlearn(t, tinyTrain(data, out)...); code != 0 {
		t.Fatalf("train exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, tc := range []struct{ flag, want string }{{"--top-k", "--top-k must be at least 1"}, {"--batch", "--batch must be at least 1"}} {
		code, stdout, stderr := tlearn(t, "predict", "--model", out, tc.flag, "0", "--format", "jsonl", data)
		if code != exitUsage || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("predict %s 0: exit %d, stdout %q, stderr %q; want 2 and %q", tc.flag, code, stdout, stderr, tc.want)
		}
	}
}

// TestMarginIsRelative: --margin is a fraction of the image, so its default
// suits any image size (issue 15 item 3): a fractional value trains and is
// recorded, a margin that would leave no crop is refused, and --help says so.
func TestMarginIsRelative(t *testing.T) {
	data := tinyData(t, 2, 4)
	out := filepath.Join(t.TempDir(), "run")
	if code, stdout, stderr := tlearn(t, tinyTrain(data, out, "--margin", "0.05")...); code != 0 {
		t.Fatalf("--margin 0.05: exit %d\n%s\n%s", code, stdout, stderr)
	}
	c, err := rundir.ReadConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	if c.Preprocess.Margin != 0.05 || c.Format != 2 {
		t.Errorf("config.json: margin %g format %d, want the fraction 0.05 in format 2", c.Preprocess.Margin, c.Format)
	}
	code, _, stderr := tlearn(t, tinyTrain(data, filepath.Join(t.TempDir(), "run"), "--margin", "0.5")...)
	if code != exitUsage || !strings.Contains(stderr, "[0, 0.5)") {
		t.Errorf("--margin 0.5: exit %d, stderr %q; want a usage error naming [0, 0.5)", code, stderr)
	}
	_, help, _ := tlearn(t, "train", "--help")
	if !strings.Contains(help, "fraction of the image's shorter side") || !strings.Contains(help, "(default: 0.02)") {
		t.Errorf("train --help does not describe the relative margin:\n%s", help)
	}
}

// TestSingleClassRefused: a dataset with one class is a usage error, not a
// run that reports validation top-1 1.0 (issue 15 item 4).
func TestSingleClassRefused(t *testing.T) {
	data := tinyData(t, 1, 6)
	out := filepath.Join(t.TempDir(), "run")
	code, _, stderr := tlearn(t, tinyTrain(data, out)...)
	if code != exitUsage || !strings.Contains(stderr, "a classifier needs at least 2") {
		t.Errorf("exit %d, stderr %q; want 2 and a message that a classifier needs at least 2 classes", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a refused run left %s behind", out)
	}
}

// TestFineTuneFromRunDir: --weights RUN_DIR takes the run's arch, input size
// and preprocessing from its config.json, restores best/ and says so, and a
// given value that disagrees is a usage error naming the run's (issue 15 item 5).
func TestFineTuneFromRunDir(t *testing.T) {
	data := tinyData(t, 2, 4)
	first := filepath.Join(t.TempDir(), "first")
	if code, stdout, stderr := tlearn(t, tinyTrain(data, first, "--preprocess", "vgg")...); code != 0 {
		t.Fatalf("first run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	second := filepath.Join(t.TempDir(), "second")
	code, stdout, stderr := tlearn(t, "train", "--data", data, "--out", second, "--weights", first,
		"--batch", "2", "--steps", "1", "--threads", "2", "--workers", "2")
	if code != 0 {
		t.Fatalf("fine-tune without --arch/--input-size: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "checkpoint=\"best") || !strings.Contains(stderr, filepath.Join(first, "best", "model.ckpt-1")) {
		t.Errorf("the log does not say best/ was restored:\n%s", stderr)
	}
	c, err := rundir.ReadConfig(second)
	if err != nil {
		t.Fatal(err)
	}
	if c.Arch != "vgg_mini" || c.InputSize != 32 || c.Preprocess.Style != "vgg" {
		t.Errorf("fine-tuned run: arch %s input %d style %s; want the first run's vgg_mini, 32, vgg", c.Arch, c.InputSize, c.Preprocess.Style)
	}
	for _, tc := range []struct{ flag, value, want string }{
		{"--input-size", "64", "was trained at --input-size 32, not 64"},
		{"--arch", "vgg_16", "was trained as vgg_mini, not --arch vgg_16"},
	} {
		code, _, stderr := tlearn(t, "train", "--data", data, "--out", filepath.Join(t.TempDir(), "third"), "--weights", first,
			tc.flag, tc.value, "--batch", "2", "--steps", "1")
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s %s: exit %d, stderr %q; want 2 and %q", tc.flag, tc.value, code, stderr, tc.want)
		}
	}
}

// TestNonFiniteLossSaysWhatExists: a run whose loss becomes NaN before any
// checkpoint says there is nothing to resume (not "resume from the last
// checkpoint") and leaves no event file behind (issue 15 item 6).
func TestNonFiniteLossSaysWhatExists(t *testing.T) {
	data := tinyData(t, 2, 4)
	out := filepath.Join(t.TempDir(), "run")
	code, _, stderr := tlearn(t, "train", "--data", data, "--out", out, "--arch", "vgg_mini", "--input-size", "32",
		"--weights", "none", "--batch", "2", "--steps", "6", "--lr", "1e30", "--lr-end", "1e30", "--threads", "2", "--workers", "2")
	if code != exitFailure || !strings.Contains(stderr, "loss became") {
		t.Fatalf("exit %d, want 1 and a non-finite loss:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "nothing to resume") || strings.Contains(stderr, "resume from the last checkpoint") {
		t.Errorf("the message does not say that no checkpoint exists:\n%s", stderr)
	}
	events, _ := filepath.Glob(filepath.Join(out, "events.out.tfevents.*"))
	if len(events) != 0 {
		t.Errorf("a run that saved nothing left its events: %v", events)
	}
}

// TestBadTrainFlagsExit2: a bad --arch, --trainable or --device, or a --data
// path that does not exist, is a usage error (exit 2) whose message says each
// context once (issue 15 item 9).
func TestBadTrainFlagsExit2(t *testing.T) {
	data := tinyData(t, 2, 4)
	nope := filepath.Join(t.TempDir(), "nope")
	tests := []struct {
		name  string
		args  []string
		want  string
		twice string // must not appear twice in stderr
	}{
		{"arch", tinyTrain(data, filepath.Join(t.TempDir(), "r"), "--arch", "vgg_20"), `unknown architecture "vgg_20"`, "vgg_20"},
		{"trainable", tinyTrain(data, filepath.Join(t.TempDir(), "r"), "--trainable", "last-99"), `trainable "last-99"`, "last-99"},
		{"device", tinyTrain(data, filepath.Join(t.TempDir(), "r"), "--device", "tpu", "--soft-placement"), `device "tpu"`, "tpu"},
		{"data", tinyTrain(nope, filepath.Join(t.TempDir(), "r")), nope + " does not exist", nope},
		{"optimizer", tinyTrain(data, filepath.Join(t.TempDir(), "r"), "--optimizer", "sgdx"), `--optimizer must be one of momentum, nesterov, adam, adamw, rmsprop (got "sgdx")`, "sgdx"},
		{"schedule", tinyTrain(data, filepath.Join(t.TempDir(), "r"), "--schedule", "expo"), `--schedule must be one of poly, cosine, step, constant (got "expo")`, "expo"},
		{"warmup", tinyTrain(data, filepath.Join(t.TempDir(), "r"), "--warmup-steps", "2", "--warmup-epochs", "1"), "not both", "not both"},
		{"warmup-long", tinyTrain(data, filepath.Join(t.TempDir(), "r"), "--warmup-steps", "1"), "warmup (1 steps) must be shorter than the run (1 steps)", "shorter"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := tlearn(t, tc.args...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
			if strings.Count(stderr, tc.twice) > 1 {
				t.Errorf("the message repeats %q: %s", tc.twice, stderr)
			}
		})
	}
	// eval of a missing --data path says "load PATH" once.
	run := filepath.Join(t.TempDir(), "run")
	if code, stdout, stderr := tlearn(t, tinyTrain(data, run)...); code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
	}
	_, _, stderr := tlearn(t, "eval", "--model", run, "--data", nope)
	if strings.Count(stderr, "load") != 1 || strings.Count(stderr, nope) != 1 {
		t.Errorf("eval of a missing path repeats its context: %s", stderr)
	}
}

// TestConfigNumbersAreNumbers: an integer for a float key (momentum: 0,
// {"lr": 1}) is a number, and config.json's spelling (weight_decay) is a key
// (issue 15 item 10).
func TestConfigNumbersAreNumbers(t *testing.T) {
	data := tinyData(t, 2, 4)
	for name, body := range map[string]string{
		"yaml": "momentum: 0\nweight_decay: 0\nlr: 1\nlr_end: 0\nmargin: 0\n",
		"json": `{"momentum": 0, "weight_decay": 0, "lr": 1, "lr-end": 0, "margin": 0}`,
	} {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "cfg."+name)
			os.WriteFile(cfg, []byte(body), 0o644)
			out := filepath.Join(t.TempDir(), "run")
			code, stdout, stderr := tlearn(t, tinyTrain(data, out, "--config", cfg)...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			c, err := rundir.ReadConfig(out)
			if err != nil {
				t.Fatal(err)
			}
			if c.Train.Momentum != 0 || c.Train.WeightDecay != 0 || c.Train.LR != 1 || c.Train.LREnd != 0 || c.Preprocess.Margin != 0 {
				t.Errorf("config.json: momentum %g weight_decay %g lr %g lr_end %g margin %g; want 0 0 1 0 0",
					c.Train.Momentum, c.Train.WeightDecay, c.Train.LR, c.Train.LREnd, c.Preprocess.Margin)
			}
		})
	}
}

// TestConfigUnknownKeyRefused: a key that is no flag is a usage error naming
// the nearest valid key, never silently ignored (issue 15 item 10).
func TestConfigUnknownKeyRefused(t *testing.T) {
	data := tinyData(t, 2, 4)
	for _, tc := range []struct{ body, want string }{
		{"momentun: 0.5\n", `unknown key "momentun"; did you mean "momentum"?`},
		{"weight_decy: 0\n", `unknown key "weight_decy"; did you mean "weight-decay"?`},
		{"batch: 2.5\n", `key "batch": want an integer, got 2.5`},
	} {
		cfg := filepath.Join(t.TempDir(), "cfg.yaml")
		os.WriteFile(cfg, []byte(tc.body), 0o644)
		code, _, stderr := tlearn(t, tinyTrain(data, filepath.Join(t.TempDir(), "run"), "--config", cfg)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.body, code, stderr, tc.want)
		}
	}
}

// TestConfigJSONReusable: a run's own config.json, given as --config, trains
// another run with the same settings (issue 15 item 10).
func TestConfigJSONReusable(t *testing.T) {
	data := tinyData(t, 2, 4)
	first := filepath.Join(t.TempDir(), "first")
	if code, stdout, stderr := tlearn(t, tinyTrain(data, first, "--momentum", "0.5", "--weight-decay", "0.001", "--margin", "0.1", "--val-split", "0.25")...); code != 0 {
		t.Fatalf("first run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	second := filepath.Join(t.TempDir(), "second")
	code, stdout, stderr := tlearn(t, "train", "--config", filepath.Join(first, rundir.ConfigFile), "--out", second,
		"--steps", "1", "--threads", "2", "--workers", "2")
	if code != 0 {
		t.Fatalf("--config FIRST/config.json: exit %d\n%s\n%s", code, stdout, stderr)
	}
	a, _ := rundir.ReadConfig(first)
	b, err := rundir.ReadConfig(second)
	if err != nil {
		t.Fatal(err)
	}
	if a.Arch != b.Arch || a.InputSize != b.InputSize || !reflect.DeepEqual(a.Preprocess, b.Preprocess) || !reflect.DeepEqual(a.Train, b.Train) {
		t.Errorf("the second run differs from the config.json it was given:\nfirst:  %+v %+v\nsecond: %+v %+v", a.Preprocess, a.Train, b.Preprocess, b.Train)
	}
}

// TestResumeRecordsChanges: a resume with another --lr logs the change and
// records it in config.json's history instead of silently overwriting the
// run's settings (issue 15 item 15).
func TestResumeRecordsChanges(t *testing.T) {
	data := tinyData(t, 2, 4)
	out := filepath.Join(t.TempDir(), "run")
	if code, stdout, stderr := tlearn(t, tinyTrain(data, out)...); code != 0 {
		t.Fatalf("first run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	args := tinyTrain(data, out, "--lr", "0.01")
	for i, a := range args {
		if a == "--steps" {
			args[i+1] = "2"
		}
	}
	code, stdout, stderr := tlearn(t, args...)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "resume changes a setting") || !strings.Contains(stderr, "setting=--lr from=0.001 to=0.01") {
		t.Errorf("the resume does not log the --lr change:\n%s", stderr)
	}
	c, err := rundir.ReadConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]rundir.Change{}
	for _, ch := range c.Changes {
		got[ch.Key] = ch
	}
	if ch := got["lr"]; ch.From != "0.001" || ch.To != "0.01" || ch.Step != 1 || c.Train.LR != 0.01 {
		t.Errorf("config.json: lr %g, changes %+v; want lr 0.01 and a change 0.001 → 0.01 at step 1", c.Train.LR, c.Changes)
	}
	if ch := got["steps"]; ch.From != "1" || ch.To != "2" {
		t.Errorf("config.json changes %+v lack steps 1 → 2", c.Changes)
	}
	if len(c.Changes) != 2 {
		t.Errorf("config.json records %d changes, want 2 (lr, steps): %+v", len(c.Changes), c.Changes)
	}
}

// TestResumeRefusesSplitChange: a resume with another --seed or --val-split
// is refused, since the new split would validate on trained images.
func TestResumeRefusesSplitChange(t *testing.T) {
	data := tinyData(t, 2, 4)
	out := filepath.Join(t.TempDir(), "run")
	if code, stdout, stderr := tlearn(t, tinyTrain(data, out)...); code != 0 {
		t.Fatalf("first run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, extra := range [][]string{{"--seed", "2"}, {"--val-split", "0.5"}} {
		code, _, stderr := tlearn(t, tinyTrain(data, out, extra...)...)
		if code != exitUsage || !strings.Contains(stderr, "cannot resume") || !strings.Contains(stderr, extra[0]) {
			t.Errorf("resume with %v: exit %d, stderr %q; want 2 and a refusal naming %s", extra, code, stderr, extra[0])
		}
	}
}
