package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlearn/tlearn/internal/testdata"
	"github.com/tlearn/tlearn/internal/testenv"
	"github.com/tlearn/tlearn/tfgraph"
)

// tlearnProc starts the test binary as `tlearn ARGS` (TensorFlow servers
// cannot be stopped: every one lives in a process that ends by itself),
// killed at the latest when ctx ends.
func tlearnProc(t *testing.T, ctx context.Context, args string, env ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(append(os.Environ(), "TLEARN_AS_MAIN=1", "TLEARN_ARGS="+args), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr
}

func clusterArgs(data, out string) string {
	return "train --data " + data + " --out " + out + " --arch vgg_mini --input-size 32 --weights none " +
		"--steps 4 --batch 4 --lr 0.001 --dropout-keep 1 --seed 7 --log-every 1 --eval-every 1000 --threads 1 --workers 1"
}

// TestClusterTrainTwoProcesses: two tlearn processes on 127.0.0.1 (task 1
// through TF_CONFIG, the chief through --cluster/--task) end with the
// weights and momentum slots of the same command run on one device, within
// 1e-4 relative (each task loading only its shard of every global batch,
// augmented with the crops of one device); both log the shard they load and
// the validation of one device (each validated half the split, the counts
// all-reduced); the non-chief writes nothing into its --out.
func TestClusterTrainTwoProcesses(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	classes := testdata.Folders(t, data, 3, 12, 40, 5)
	for i := range 6 { // unreadable: replaced, and listed in bad_files.txt
		if err := os.WriteFile(filepath.Join(data, classes[i%3], fmt.Sprintf("bad-%d.jpg", i)), []byte("not a jpeg"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	single, chief, other := filepath.Join(tmp, "single"), filepath.Join(tmp, "chief"), filepath.Join(tmp, "other")
	var so, se strings.Builder
	if code := run(context.Background(), append([]string{"tlearn"}, strings.Fields(clusterArgs(data, single))...), &so, &se); code != 0 {
		t.Fatalf("single-device run: exit %d\n%s", code, se.String())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cluster := func(args func(out string) string) (chiefLog, otherLog string) {
		addrs := testenv.LoopbackAddrs(t, 2)
		c0, e0 := tlearnProc(t, ctx, args(chief)+" --cluster "+strings.Join(addrs, ",")+" --task 0")
		tfConfig := fmt.Sprintf(`{"cluster": {"worker": ["%s", "%s"]}, "task": {"type": "worker", "index": 1}}`, addrs[0], addrs[1])
		c1, e1 := tlearnProc(t, ctx, args(other), "TF_CONFIG="+tfConfig)
		err0, err1 := c0.Wait(), c1.Wait()
		if err0 != nil || err1 != nil {
			t.Fatalf("chief: %v\n%s\ntask 1: %v\n%s", err0, e0.String(), err1, e1.String())
		}
		if _, err := os.Stat(other); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("task 1 wrote its --out %s: %v", other, err)
		}
		return e0.String(), e1.String()
	}
	chiefLog, otherLog := cluster(func(out string) string { return clusterArgs(data, out) })
	// Each task validated its half of the split; the all-reduced numbers
	// are the whole split's, on both tasks, as on one device.
	want := validationCounts(t, se.String())
	for task, log := range []string{chiefLog, otherLog} {
		if got := validationCounts(t, log); got != want {
			t.Errorf("task %d validation: %s, one device: %s", task, got, want)
		}
	}
	for task, log := range []string{chiefLog, otherLog} {
		if !strings.Contains(log, fmt.Sprintf("positions=\"%d..%d of every global batch of 4\"", 2*task, 2*task+1)) {
			t.Errorf("task %d does not log the shard it loads:\n%s", task, log)
		}
	}
	// The bad files task 1 met in its shards reached the chief's
	// bad_files.txt: it lists those of one device.
	sameBadFiles(t, single, chief)
	if !regexp.MustCompile(`skipping unreadable image.* task=1`).MatchString(chiefLog) {
		t.Errorf("the chief logs no bad file met by task 1: the test data no longer exercise the sharing\n%s", chiefLog)
	}

	compare(t, runWeights(t, single, 4), runWeights(t, chief, 4), "2 processes vs one device")

	// Both commands again with --steps 6: the chief resumes from its
	// checkpoint and broadcasts it, task 1 (a fresh process with nothing
	// on disk) follows, and they end where one device resuming ends.
	longer := func(out string) string { return strings.Replace(clusterArgs(data, out), "--steps 4", "--steps 6", 1) }
	if code := run(context.Background(), append([]string{"tlearn"}, strings.Fields(longer(single))...), &so, &se); code != 0 {
		t.Fatalf("single-device resume: exit %d\n%s", code, se.String())
	}
	cluster(longer)
	compare(t, runWeights(t, single, 6), runWeights(t, chief, 6), "resumed: 2 processes vs one device")
	sameBadFiles(t, single, chief)
}

// runWeights reads the vgg_mini (32 px, 3 classes) weights and momentum
// slots of RUN_DIR dir's latest checkpoint, which must be of step.
func runWeights(t *testing.T, dir string, step int) map[string][]float32 {
	t.Helper()
	cfg := tfgraph.DefaultConfig("vgg_mini", 3)
	cfg.InputSize, cfg.DropoutKeep, cfg.IntraOpThreads = 32, 1, 1
	m, err := tfgraph.NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ckpt, err := tfgraph.LatestCheckpoint(dir)
	if err != nil || !strings.HasSuffix(ckpt, fmt.Sprintf("model.ckpt-%d", step)) {
		t.Fatalf("%s: latest checkpoint %q, %v; want model.ckpt-%d", dir, ckpt, err, step)
	}
	if err := m.RestoreCheckpoint(ckpt); err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for _, v := range m.Variables() {
		for _, name := range []string{v.Name, v.Name + "/Momentum"} {
			if vals, _, err := m.ReadVariable(name); err == nil {
				out[name] = vals
			} else if name == v.Name {
				t.Fatal(err)
			}
		}
	}
	return out
}

// TestClusterDevicesHeadPhase: two tasks with two replicas each
// (--devices cpu:0,cpu:1, virtual CPUs of each task's server) and a
// head-only first epoch end with the weights and slots of one process
// training four replicas with the same head phase: every replica sees the
// same quarter of every global batch.
func TestClusterDevicesHeadPhase(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	testdata.Folders(t, data, 3, 12, 40, 5)
	args := func(out, devices string) string {
		return strings.Replace(clusterArgs(data, out), "--steps 4", "--steps 6 --head-epochs 0.5 --val-split 0", 1) + " --devices " + devices
	}
	single, chief, other := filepath.Join(tmp, "single"), filepath.Join(tmp, "chief"), filepath.Join(tmp, "other")
	var so, se strings.Builder
	if code := run(context.Background(), append([]string{"tlearn"}, strings.Fields(args(single, "cpu:0,cpu:1,cpu:2,cpu:3"))...), &so, &se); code != 0 {
		t.Fatalf("one process, 4 replicas: exit %d\n%s", code, se.String())
	}
	if !strings.Contains(se.String(), "head-only phase done") {
		t.Fatalf("the run has no head-only phase:\n%s", se.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	addrs := " --cluster " + strings.Join(testenv.LoopbackAddrs(t, 2), ",")
	c0, e0 := tlearnProc(t, ctx, args(chief, "cpu:0,cpu:1")+addrs+" --task 0")
	c1, e1 := tlearnProc(t, ctx, args(other, "cpu:0,cpu:1")+addrs+" --task 1")
	if err0, err1 := c0.Wait(), c1.Wait(); err0 != nil || err1 != nil {
		t.Fatalf("chief: %v\n%s\ntask 1: %v\n%s", err0, e0.String(), err1, e1.String())
	}
	compare(t, runWeights(t, single, 6), runWeights(t, chief, 6), "2 tasks × 2 replicas vs 4 replicas in one process")
}

// TestClusterFineTune: fine-tuning from weights (a RUN_DIR) on two tasks
// ends with the weights and slots of the same fine-tuning on one device:
// the chief restores and broadcasts, and the other task, which has no
// RUN_DIR of its own, still trains as from weights (not from scratch,
// whose input layer learns at another rate).
func TestClusterFineTune(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	testdata.Folders(t, data, 3, 12, 40, 5)
	base, single, chief, other := filepath.Join(tmp, "base"), filepath.Join(tmp, "single"), filepath.Join(tmp, "chief"), filepath.Join(tmp, "other")
	var so, se strings.Builder
	if code := run(context.Background(), append([]string{"tlearn"}, strings.Fields(clusterArgs(data, base))...), &so, &se); code != 0 {
		t.Fatalf("base run: exit %d\n%s", code, se.String())
	}
	args := func(out string) string {
		return strings.Replace(clusterArgs(data, out), "--weights none", "--weights "+base, 1)
	}
	if code := run(context.Background(), append([]string{"tlearn"}, strings.Fields(args(single))...), &so, &se); code != 0 {
		t.Fatalf("one-device fine-tuning: exit %d\n%s", code, se.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	addrs := " --cluster " + strings.Join(testenv.LoopbackAddrs(t, 2), ",")
	c0, e0 := tlearnProc(t, ctx, args(chief)+addrs+" --task 0")
	c1, e1 := tlearnProc(t, ctx, args(other)+addrs+" --task 1")
	if err0, err1 := c0.Wait(), c1.Wait(); err0 != nil || err1 != nil {
		t.Fatalf("chief: %v\n%s\ntask 1: %v\n%s", err0, e0.String(), err1, e1.String())
	}
	compare(t, runWeights(t, single, 4), runWeights(t, chief, 4), "fine-tuning on 2 tasks vs one device")
}

// sameBadFiles fails unless the RUN_DIRs' bad_files.txt list the same
// files (in any order: each task meets its own shard's), at least one.
func sameBadFiles(t *testing.T, want, got string) {
	t.Helper()
	paths := func(dir string) []string {
		b, err := os.ReadFile(filepath.Join(dir, "bad_files.txt"))
		if err != nil {
			t.Fatal(err)
		}
		var ps []string
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			p, _, _ := strings.Cut(line, "\t")
			ps = append(ps, p)
		}
		slices.Sort(ps)
		return ps
	}
	w, g := paths(want), paths(got)
	if len(w) == 0 || !slices.Equal(w, g) {
		t.Errorf("bad_files.txt: 2 processes list %q, one device %q", g, w)
	}
}

// validationCounts is the first validation log line's top-1, top-5 and
// image count (the loss is left out: its float summation order differs).
func validationCounts(t *testing.T, log string) string {
	t.Helper()
	m := regexp.MustCompile(`msg=validation .*(top1=\S+ top5=\S+) .*(images=\d+ failed=\d+)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no validation line in:\n%s", log)
	}
	return m[1] + " " + m[2]
}

// compare fails when got differs from want by more than 1e-4 relative
// (L2 over each tensor), logging the worst tensor.
func compare(t *testing.T, want, got map[string][]float32, what string) {
	t.Helper()
	worst, at, err := testenv.WorstRelDiff(want, got)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	t.Logf("%s: worst relative difference %.3g (%s) over %d tensors", what, worst, at, len(want))
	if worst > 1e-4 {
		t.Errorf("%s: differ by %.3g relative (%s)", what, worst, at)
	}
}

// TestClusterPeerKilled: kill -9 of the non-chief mid-run makes the chief
// exit non-zero by itself, naming the lost task; running both commands
// again resumes from the chief's last checkpoint and finishes the run.
func TestClusterPeerKilled(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	testdata.Folders(t, data, 3, 12, 40, 5)
	addrs := testenv.LoopbackAddrs(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := filepath.Join(tmp, "run")
	const total = 300
	args := strings.Replace(clusterArgs(data, run), "--steps 4", fmt.Sprintf("--steps %d --save-every-steps 2", total), 1)
	args += " --cluster " + strings.Join(addrs, ",")
	c0, e0 := tlearnProc(t, ctx, args+" --task 0")
	c1 := exec.CommandContext(ctx, os.Args[0])
	c1.Env = append(os.Environ(), "TLEARN_AS_MAIN=1", "TLEARN_ARGS="+args+" --task 1")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c1.Stderr = pw
	if err := c1.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	// Kill task 1 once it has taken 3 steps.
	steps := 0
	buf := make([]byte, 4096)
	var log1 strings.Builder
	for steps < 3 {
		n, err := pr.Read(buf)
		if err != nil {
			t.Fatalf("task 1 ended before 3 steps: %v\n%s\nchief:\n%s", err, log1.String(), e0.String())
		}
		log1.Write(buf[:n])
		steps = strings.Count(log1.String(), "msg=step ")
	}
	c1.Process.Kill()
	killed := time.Now()
	c1.Wait()
	pr.Close()
	err = c0.Wait()
	t.Logf("chief exited %v after task 1 was killed: %v", time.Since(killed).Round(time.Second), err)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailure {
		t.Fatalf("chief: %v, want exit %d\n%s", err, exitFailure, e0.String())
	}
	last := e0.String()[strings.LastIndex(e0.String(), "tlearn:"):]
	t.Logf("chief: %s", strings.SplitN(last, "\n", 2)[0])
	if !strings.Contains(last, "lost task 1 ("+addrs[1]+")") {
		t.Errorf("the chief's message should name the lost task 1:\n%s", last)
	}
	before, err := tfgraph.LatestCheckpoint(run)
	if err != nil {
		t.Fatalf("no checkpoint left by the killed run: %v", err)
	}

	// Every task again, the same command (fresh ports: the killed run's
	// servers may linger in TIME_WAIT).
	again := testenv.LoopbackAddrs(t, 2)
	args = strings.Replace(args, strings.Join(addrs, ","), strings.Join(again, ","), 1)
	r0, f0 := tlearnProc(t, ctx, args+" --task 0")
	r1, f1 := tlearnProc(t, ctx, args+" --task 1")
	if err0, err1 := r0.Wait(), r1.Wait(); err0 != nil || err1 != nil {
		t.Fatalf("re-run: chief %v\n%s\ntask 1: %v\n%s", err0, f0.String(), err1, f1.String())
	}
	after, err := tfgraph.LatestCheckpoint(run)
	if err != nil || !strings.HasSuffix(after, fmt.Sprintf("model.ckpt-%d", total)) {
		t.Fatalf("re-run ended at checkpoint %q (%v), want model.ckpt-%d", after, err, total)
	}
	first := firstLoggedStep(f0.String())
	t.Logf("killed run left %s; the re-run started at step %d and ended at %s", filepath.Base(before), first, filepath.Base(after))
	if first <= 1 {
		t.Errorf("the re-run's first step is %d: it did not resume from %s\n%s", first, before, f0.String())
	}
}

// firstLoggedStep is the step of the first "step" log line of a tlearn
// train log, 0 if there is none.
func firstLoggedStep(log string) int {
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "msg=step ") {
			continue
		}
		var step int
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "step="); ok {
				fmt.Sscan(v, &step)
				return step
			}
		}
	}
	return 0
}

// TestClusterUsageErrors: a malformed TF_CONFIG, a task index out of range,
// TF_CONFIG and flags that disagree, and a global batch that does not split
// are usage errors (exit 2) before any server starts.
func TestClusterUsageErrors(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	base := clusterArgs(data, filepath.Join(t.TempDir(), "run"))
	for _, tc := range []struct {
		name, args, tfConfig, want string
	}{
		{"malformed TF_CONFIG", base, `{"cluster": [`, "TF_CONFIG: not the JSON"},
		{"index out of range", base + " --cluster 127.0.0.1:1,127.0.0.1:2 --task 2", "", "task index 2 out of range"},
		{"disagree", base + " --cluster 127.0.0.1:1,127.0.0.1:2 --task 0", `{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 1}}`, "TF_CONFIG's task 1 and --task 0 differ"},
		{"task without cluster", base + " --task 1", "", "--task 1 without --cluster"},
		{"batch does not split", strings.Replace(base, "--batch 4", "--batch 5", 1) + " --cluster 127.0.0.1:1,127.0.0.1:2 --task 0", "", "--batch 5 is the global batch: it must split evenly over the 2 tasks"},
		{"batch does not split over the devices", strings.Replace(base, "--batch 4", "--batch 4 --devices cpu:0,cpu:1,cpu:2", 1) + " --cluster 127.0.0.1:1,127.0.0.1:2 --task 0", "", "--batch 4 is the global batch: it must split evenly over the 2 tasks × 3 devices"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TF_CONFIG", tc.tfConfig)
			var so, se strings.Builder
			code := run(context.Background(), append([]string{"tlearn"}, strings.Fields(tc.args)...), &so, &se)
			if code != exitUsage || !strings.Contains(se.String(), tc.want) {
				t.Fatalf("exit %d, want %d with %q:\n%s", code, exitUsage, tc.want, se.String())
			}
		})
	}
}

// TestClusterCommandMismatch: a task started with another --batch and
// --seed is refused (exit 2) saying what differs from the chief; the
// chief, also exit 2, names the task.
func TestClusterCommandMismatch(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	testdata.Folders(t, data, 3, 12, 40, 5)
	addrs := testenv.LoopbackAddrs(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := clusterArgs(data, filepath.Join(tmp, "run")) + " --cluster " + strings.Join(addrs, ",")
	other := strings.NewReplacer("--batch 4", "--batch 8", "--seed 7", "--seed 8").Replace(args)
	c0, e0 := tlearnProc(t, ctx, args+" --task 0")
	c1, e1 := tlearnProc(t, ctx, other+" --task 1")
	err0, err1 := c0.Wait(), c1.Wait()
	for i, err := range []error{err0, err1} {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
			t.Errorf("task %d: %v, want exit %d", i, err, exitUsage)
		}
	}
	if s := e1.String(); !strings.Contains(s, `batch: here "8", chief "4"`) || !strings.Contains(s, `seed: here "8", chief "7"`) {
		t.Errorf("task 1 should say batch and seed differ:\n%s", s)
	}
	if s := e0.String(); !strings.Contains(s, "task 1 ("+addrs[1]+") started with a different command") {
		t.Errorf("the chief should name task 1:\n%s", s)
	}
}
