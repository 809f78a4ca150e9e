package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/internal/testdata"
	"github.com/tlearn/tlearn/rundir"
)

// tlearn runs one command line in-process and returns its exit code and outputs.
func tlearn(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"tlearn"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestInfoJSON(t *testing.T) {
	code, out, errOut := tlearn(t, "info", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tensorflow_version", "go_version", "devices", "gpu_available"} {
		if _, ok := r[k]; !ok {
			t.Errorf("info --json lacks %q", k)
		}
	}
	if !strings.HasPrefix(r["tensorflow_version"].(string), "2.18.") {
		t.Errorf("tensorflow_version = %v", r["tensorflow_version"])
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	tests := [][]string{
		{"train", "--no-such-flag"},
		{"train", "--out", "x"},
		{"predict"},
		{"predict", "--model", "x", "--format", "xml", "a.jpg"},
		{"eval", "--model", "x"},
	}
	for _, args := range tests {
		code, _, errOut := tlearn(t, args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr: %s)", args, code, errOut)
		}
	}
}

// TestTrainPredictEvalCLI is the contract end to end: flags, config file and
// environment precedence, RUN_DIR layout, predict's JSON Lines with an error
// line and exit 3, eval's JSON and report files.
func TestTrainPredictEvalCLI(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	testdata.Folders(t, data, 3, 12, 40, 5)
	run := filepath.Join(tmp, "run")
	cfg := filepath.Join(tmp, "cfg.yaml")
	// The config file sets batch 4 and epochs 99; the environment overrides
	// epochs; the flag --steps wins over all.
	os.WriteFile(cfg, []byte("batch: 4\nepochs: 99\narch: vgg_mini\ninput-size: 32\nmargin: 0.05\nlr: 0.001\n"), 0o644)
	t.Setenv("TLEARN_EPOCHS", "2")
	t.Setenv("TLEARN_WORKERS", "2")
	code, out, errOut := tlearn(t, "train", "--config", cfg, "--data", data, "--out", run, "--weights", "none",
		"--steps", "6", "--eval-every", "3", "--log-every", "3", "--threads", "2")
	if code != 0 {
		t.Fatalf("train exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	c, err := rundir.ReadConfig(run)
	if err != nil {
		t.Fatal(err)
	}
	if c.Train.Batch != 4 || c.Train.Epochs != 2 || c.Train.TotalSteps != 6 || c.Arch != "vgg_mini" {
		t.Errorf("precedence: batch=%d (config 4) epochs=%d (env 2) total_steps=%d (flag 6) arch=%s",
			c.Train.Batch, c.Train.Epochs, c.Train.TotalSteps, c.Arch)
	}

	// predict: a folder with good images and one bad one → one line each, exit 3.
	imgs := filepath.Join(tmp, "imgs")
	testdata.Folders(t, imgs, 2, 2, 36, 6)
	os.WriteFile(filepath.Join(imgs, "broken.jpg"), []byte("nope"), 0o644)
	code, out, errOut = tlearn(t, "predict", "--model", run, "--top-k", "2", "--format", "jsonl", imgs)
	if code != 3 {
		t.Fatalf("predict exit %d, want 3\n%s", code, errOut)
	}
	lines := 0
	errorsSeen := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		lines++
		var p struct {
			Path        string `json:"path"`
			Error       string `json:"error"`
			Predictions []struct {
				Label       string  `json:"label"`
				Index       int     `json:"index"`
				Probability float64 `json:"probability"`
			} `json:"predictions"`
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if p.Error != "" {
			errorsSeen++
			if !strings.HasSuffix(p.Path, "broken.jpg") {
				t.Errorf("unexpected error line %s", sc.Text())
			}
			continue
		}
		if len(p.Predictions) != 2 || p.Predictions[0].Label != c.Classes[p.Predictions[0].Index] {
			t.Errorf("bad prediction line %s", sc.Text())
		}
	}
	if lines != 5 || errorsSeen != 1 {
		t.Errorf("predict printed %d lines (%d errors), want 5 (1 error):\n%s", lines, errorsSeen, out)
	}

	// CSV format: header + 4 images × 2 ranks + 1 error row.
	_, out, _ = tlearn(t, "predict", "--model", run, "--top-k", "2", "--format", "csv", imgs)
	if rows := strings.Count(out, "\n"); rows != 1+4*2+1 || !strings.HasPrefix(out, "path,rank,label,index,probability,error\n") {
		t.Errorf("csv output:\n%s", out)
	}

	// eval: JSON with the contract's keys, report files.
	report := filepath.Join(tmp, "report")
	code, out, errOut = tlearn(t, "eval", "--model", run, "--data", data, "--format", "json", "--out", report)
	if code != 0 {
		t.Fatalf("eval exit %d: %s", code, errOut)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("eval output %q: %v", out, err)
	}
	for _, k := range []string{"n", "top1", "top5", "failed", "per_class"} {
		if _, ok := r[k]; !ok {
			t.Errorf("eval JSON lacks %q: %s", k, out)
		}
	}
	if r["n"].(float64) != 36 {
		t.Errorf("eval n = %v, want all 36 images", r["n"])
	}
	for _, f := range []string{"confusion.csv", "confusion.png", "curves.png"} {
		if _, err := os.Stat(filepath.Join(report, f)); err != nil {
			t.Errorf("report file %s: %v", f, err)
		}
	}

	// The same command resumes: asking for more steps continues from step 6.
	code, out, errOut = tlearn(t, "train", "--config", cfg, "--data", data, "--out", run, "--weights", "none",
		"--steps", "8", "--threads", "2")
	if code != 0 || !strings.Contains(errOut, "resuming from model.ckpt-6 at step 6") || !strings.Contains(out, "to step 8") {
		t.Errorf("resume: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if !strings.Contains(errOut, "--weights none is ignored") && !strings.Contains(errOut, "resuming") {
		t.Errorf("resume does not mention --weights: %s", errOut)
	}
}

// TestExportThenPredictSavedModel: `tlearn export` writes a SavedModel whose
// predictions through `tlearn predict --model SAVEDMODEL` equal the RUN_DIR's.
func TestExportThenPredictSavedModel(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	testdata.Folders(t, data, 2, 8, 40, 9)
	run := filepath.Join(tmp, "run")
	code, _, errOut := tlearn(t, "train", "--data", data, "--out", run, "--arch", "vgg_mini", "--input-size", "32",
		"--weights", "none", "--steps", "3", "--batch", "4", "--preprocess", "vgg", "--threads", "2", "--workers", "2")
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, errOut)
	}
	exp := filepath.Join(tmp, "export", "1")
	if code, _, errOut = tlearn(t, "export", "--model", run, "--out", exp); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	for _, f := range []string{"saved_model.pb", "variables/variables.index", "assets/classes.txt"} {
		if _, err := os.Stat(filepath.Join(exp, f)); err != nil {
			t.Errorf("export lacks %s", f)
		}
	}
	// Exporting again into the now non-empty folder is refused, and leaves it intact.
	if code, _, errOut = tlearn(t, "export", "--model", run, "--out", exp); code == 0 || !strings.Contains(errOut, "not empty") {
		t.Errorf("second export: exit %d, stderr %q; want a refusal naming the non-empty folder", code, errOut)
	}
	_, fromRun, _ := tlearn(t, "predict", "--model", run, "--checkpoint", "latest", "--format", "jsonl", "--top-k", "2", data)
	_, fromExport, errOut := tlearn(t, "predict", "--model", exp, "--format", "jsonl", "--top-k", "2", data)
	if fromRun == "" || fromRun != fromExport {
		t.Errorf("predict through the SavedModel differs from the RUN_DIR:\nrun:    %.300s\nexport: %.300s\n%s", fromRun, fromExport, errOut)
	}
}
