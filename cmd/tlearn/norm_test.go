package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/rundir"
)

// TestMobileNetNormCLI: a mobilenet_v2 run takes the net's [-1, 1]
// normalisation from the net table, records it in config.json and in the
// export, and the export's bytes signature (in-graph normalisation) agrees
// with `predict --model RUN_DIR` (the Go pipeline's) and with the export's
// float signature fed by the Go pipeline.
func TestMobileNetNormCLI(t *testing.T) {
	tmp := t.TempDir()
	data := tinyData(t, 2, 3)
	// predictions keys answers by base name: make them unique across classes.
	classes, err := os.ReadDir(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range classes {
		files, err := os.ReadDir(filepath.Join(data, c.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			dir := filepath.Join(data, c.Name())
			if err := os.Rename(filepath.Join(dir, f.Name()), filepath.Join(dir, c.Name()+"_"+f.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	run := filepath.Join(tmp, "run")
	if code, _, errOut := tlearn(t, "train", "--data", data, "--out", run, "--arch", "mobilenet_v2", "--input-size", "32",
		"--weights", "none", "--batch", "2", "--steps", "1", "--threads", "2", "--workers", "2"); code != 0 {
		t.Fatalf("train: exit %d: %s", code, errOut)
	}
	cfg, err := rundir.ReadConfig(run)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Preprocess.Norm != "plus_minus_one" || cfg.Preprocess.Means != [3]float32{127.5, 127.5, 127.5} {
		t.Errorf("config.json preprocess norm %q means %v, want plus_minus_one and 127.5", cfg.Preprocess.Norm, cfg.Preprocess.Means)
	}
	exp := filepath.Join(tmp, "export")
	if code, _, errOut := tlearn(t, "export", "--model", run, "--out", exp); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(exp, "assets.extra", "preprocess_norm.txt")); err != nil || strings.TrimSpace(string(b)) != "plus_minus_one" {
		t.Errorf("export preprocess_norm.txt = %q (%v), want plus_minus_one", b, err)
	}
	answers := map[string]map[string]struct {
		probs map[int]float64
		top   int
		err   string
	}{}
	for name, args := range map[string][]string{
		"run dir": {"predict", "--model", run},
		"bytes":   {"predict", "--model", exp, "--signature", "bytes"},
		"float":   {"predict", "--model", exp},
	} {
		code, out, errOut := tlearn(t, append(args, "--format", "jsonl", "--top-k", "2", "--threads", "2", data)...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		answers[name] = predictions(t, out)
	}
	ref := answers["run dir"]
	if len(ref) != 6 {
		t.Fatalf("predict --model RUN_DIR: %d answers, want 6", len(ref))
	}
	for _, name := range []string{"bytes", "float"} {
		got := answers[name]
		if len(got) != len(ref) {
			t.Fatalf("%s: %d answers, want %d", name, len(got), len(ref))
		}
		for file, r := range ref {
			g := got[file]
			if g.err != "" || g.top != r.top {
				t.Errorf("%s %s: top-1 %d (error %q), RUN_DIR %d", name, file, g.top, g.err, r.top)
			}
			for i, p := range r.probs {
				if d := math.Abs(p - g.probs[i]); d > 1e-4 {
					t.Errorf("%s %s class %d: %.6f, RUN_DIR %.6f", name, file, i, g.probs[i], p)
				}
			}
		}
	}
}
