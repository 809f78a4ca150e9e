package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlearn/tlearn/internal/testdata"
	"github.com/tlearn/tlearn/tfgraph"
)

// TestMain lets the test binary act as the tlearn command (TLEARN_AS_MAIN=1),
// so signal handling is tested on a real process.
func TestMain(m *testing.M) {
	if os.Getenv("TLEARN_AS_MAIN") == "1" {
		os.Args = append([]string{"tlearn"}, strings.Fields(os.Getenv("TLEARN_ARGS"))...)
		main()
		return
	}
	code := m.Run()
	if fixture.dir != "" {
		os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

// TestCtrlCSavesAndResumes: SIGINT during training saves a checkpoint at the
// current step and exits 130; the same command then resumes from it.
func TestCtrlCSavesAndResumes(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	testdata.Folders(t, data, 2, 10, 40, 8)
	run := filepath.Join(tmp, "run")
	args := "train --data " + data + " --out " + run + " --arch vgg_mini --input-size 32 --margin 0.05 --weights none " +
		"--steps 100000 --batch 4 --lr 0.001 --log-every 1 --eval-every 1000000 --threads 1 --workers 1"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), "TLEARN_AS_MAIN=1", "TLEARN_ARGS="+args)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var log strings.Builder
	steps := 0
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "msg=step") {
			if steps++; steps == 5 {
				cmd.Process.Signal(syscall.SIGINT)
			}
		}
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("after SIGINT: %v, want exit %d\n%s", err, exitInterrupted, log.String())
	}
	if !strings.Contains(log.String(), "run the same command to resume") {
		t.Errorf("no resume hint in:\n%s", log.String())
	}
	ckpt, err := tfgraph.LatestCheckpoint(run)
	if err != nil {
		t.Fatalf("no checkpoint after SIGINT: %v\n%s", err, log.String())
	}
	m, err := tfgraph.NewModel(tfgraph.Config{Arch: "vgg_mini", NumClasses: 2, InputSize: 32, ForInference: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.RestoreCheckpoint(ckpt); err != nil {
		t.Fatal(err)
	}
	step, _ := m.GlobalStep()
	if step < 5 || !strings.HasSuffix(ckpt, "-"+itoa(step)) {
		t.Errorf("checkpoint %s holds step %d; want the step reached (>= 5)", ckpt, step)
	}
	// The same command resumes from that step (with fewer steps to go, so it ends).
	code, out, errOut := tlearn(t, strings.Fields(strings.Replace(args, "--steps 100000", "--steps "+itoa(step+2), 1))...)
	if code != 0 || !strings.Contains(errOut, "resuming from model.ckpt-"+itoa(step)) || !strings.Contains(out, "to step "+itoa(step+2)) {
		t.Errorf("resume after SIGINT: exit %d\n%s\n%s", code, out, errOut)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestBrokenPipeSavesLikeSIGTERM: `tlearn train 2>&1 | head` — when the
// reader of its output goes away, training saves a checkpoint at the step
// reached and exits 130 instead of being killed by SIGPIPE.
func TestBrokenPipeSavesLikeSIGTERM(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	testdata.Folders(t, data, 2, 8, 36, 8)
	run := filepath.Join(tmp, "run")
	args := "train --data " + data + " --out " + run + " --arch vgg_mini --input-size 32 --margin 0.05 --weights none " +
		"--steps 100000 --batch 4 --log-every 1 --eval-every 1000000 --threads 1 --workers 1"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), "TLEARN_AS_MAIN=1", "TLEARN_ARGS="+args)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	sc := bufio.NewScanner(r)
	steps := 0
	for steps < 3 && sc.Scan() {
		if strings.Contains(sc.Text(), "msg=step") {
			steps++
		}
	}
	r.Close() // like head exiting
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("after the pipe closed: %v, want exit %d", err, exitInterrupted)
	}
	ckpt, err := tfgraph.LatestCheckpoint(run)
	if err != nil {
		t.Fatalf("no checkpoint saved: %v", err)
	}
	if step, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(ckpt), "model.ckpt-")); err != nil || step < 3 {
		t.Errorf("checkpoint %s, want one at step >= 3", ckpt)
	}
}

// asMain runs the test binary as `tlearn args...` in a child process and
// returns its exit code, stdout and stderr.
func asMain(t *testing.T, env []string, args string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), "TLEARN_AS_MAIN=1", "TLEARN_ARGS="+args), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// tfLogLine matches TensorFlow's and absl's log formats.
var tfLogLine = regexp.MustCompile(`(?m)^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] |[IWE]\d{4} \d\d:\d\d:|WARNING: All log messages before absl)`)

// TestPredictHidesTensorFlowLog: by default a predict run's stderr holds only
// tlearn's own lines — not absl's "MLIR V1 optimization pass" and co.
func TestPredictHidesTensorFlowLog(t *testing.T) {
	data, run := sharedRun(t)
	code, _, errOut := asMain(t, nil, "predict --model "+run+" --format jsonl "+data)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if m := tfLogLine.FindString(errOut); m != "" {
		t.Errorf("TensorFlow log line on stderr:\n%s", errOut)
	}
	if !strings.Contains(errOut, "tlearn: predicted") {
		t.Errorf("tlearn's own summary is missing:\n%s", errOut)
	}
}

// TestTFLogShowsTensorFlowLog: TLEARN_TF_LOG=1 lets TensorFlow's log through.
func TestTFLogShowsTensorFlowLog(t *testing.T) {
	data, run := sharedRun(t)
	code, _, errOut := asMain(t, []string{"TLEARN_TF_LOG=1"}, "predict --model "+run+" --format jsonl "+data)
	if code != 0 || tfLogLine.FindString(errOut) == "" {
		t.Errorf("exit %d; want TensorFlow's lines on stderr:\n%s", code, errOut)
	}
}

// TestHelpPrintsNoTensorFlowLog: even without TF_CPP_MIN_LOG_LEVEL, `tlearn
// --help` prints nothing on stderr — not the oneDNN line libtensorflow logs
// while it is being loaded.
func TestHelpPrintsNoTensorFlowLog(t *testing.T) {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "TF_CPP_MIN_LOG_LEVEL=") && !strings.HasPrefix(e, "TLEARN_TF_LOG=") {
			env = append(env, e)
		}
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(env, "TLEARN_AS_MAIN=1", "TLEARN_ARGS=--help")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("--help: %v\n%s", err, stderr.String())
	}
	if stderr.Len() != 0 || !strings.Contains(stdout.String(), "USAGE") {
		t.Errorf("stderr %q (want empty), stdout %.80q", stderr.String(), stdout.String())
	}
}
