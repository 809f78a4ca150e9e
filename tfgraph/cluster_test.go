package tfgraph

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tlearn/tlearn/internal/testenv"
)

// TestMain lets the test binary act as one task of a cluster
// (TLEARN_CLUSTER_TASK set): TensorFlow's gRPC servers cannot be stopped,
// so every server of these tests lives in a subprocess that ends by itself.
func TestMain(m *testing.M) {
	if os.Getenv("TLEARN_CLUSTER_TASK") != "" {
		os.Exit(clusterTaskMain())
	}
	os.Exit(m.Run())
}

// clusterTaskMain is one task: start the server, handshake with the
// record of TLEARN_CLUSTER_RECORD, then per TLEARN_CLUSTER_MODE:
// "reduce": all-reduce (mean and sum) [task+1, 10(task+1)], gather byte strings, and print the
// results as JSON; "train:ARCH": trainTask; "bench:STEPS:BATCH": benchTask;
// "hang": print "handshook" and wait to be killed.
func clusterTaskMain() int {
	task, _ := strconv.Atoi(os.Getenv("TLEARN_CLUSTER_TASK"))
	c := Cluster{Workers: strings.Split(os.Getenv("TLEARN_CLUSTER_WORKERS"), ","), Task: task}
	if v, ok := strings.CutPrefix(os.Getenv("TLEARN_CLUSTER_MODE"), "train:"); ok {
		c.CPUs = len(clusterTrainConfig(v, 0).Devices)
	}
	timeout, _ := time.ParseDuration(os.Getenv("TLEARN_CLUSTER_TIMEOUT"))
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "task", task, "error:", err)
		return 1
	}
	srv, err := StartServer(c)
	if err != nil {
		return fail(err)
	}
	var record map[string]string
	if err := json.Unmarshal([]byte(os.Getenv("TLEARN_CLUSTER_RECORD")), &record); err != nil {
		return fail(err)
	}
	if err := srv.Handshake(record, timeout); err != nil {
		return fail(err)
	}
	if arch, ok := strings.CutPrefix(os.Getenv("TLEARN_CLUSTER_MODE"), "train:"); ok {
		return trainTask(srv, arch)
	}
	if spec, ok := strings.CutPrefix(os.Getenv("TLEARN_CLUSTER_MODE"), "bench:"); ok {
		return benchTask(srv, spec)
	}
	if os.Getenv("TLEARN_CLUSTER_MODE") == "hang" {
		fmt.Println("handshook")
		time.Sleep(5 * time.Minute) // the test kills it; ends by itself anyway
		return 0
	}
	v := float32(task + 1)
	mean, err := srv.AllReduce([]float32{v, 10 * v}, true, timeout)
	if err != nil {
		return fail(err)
	}
	sum, err := srv.AllReduce([]float32{v, 10 * v, 100 * v}, false, timeout)
	if err != nil {
		return fail(err)
	}
	mine := []string{"chief", "task one, longer"}[task]
	got, err := srv.GatherBytes([]byte(mine), timeout)
	if err != nil {
		return fail(err)
	}
	none, err := srv.GatherBytes(nil, timeout)
	if err != nil {
		return fail(err)
	}
	var gathered []string
	for _, b := range append(got, none...) {
		gathered = append(gathered, string(b))
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"mean": mean, "sum": sum, "gather": gathered})
	if err := srv.Stop(); err != nil {
		return fail(err)
	}
	return 0
}

// clusterTrainConfig is the model of the training tests: arch (vgg_mini or
// resnet_mini, whose batch norm is frozen: per-task batch statistics differ
// from the global batch's), no dropout, momentum with L2. seed differs
// between tasks to show that the broadcast, not the seed, makes their
// initial weights equal. variant is the arch, optionally followed by
// "/devices" (two replicas per task on virtual CPUs), "/head" (the first 2
// steps train the head only) or "/fp16" (float16 emulation with loss
// scaling).
func clusterTrainConfig(variant string, seed int64) Config {
	arch, extra, _ := strings.Cut(variant, "/")
	c := DefaultConfig(arch, 3)
	if arch == "resnet_mini" {
		c.BatchNorm = BatchNormFrozen
	}
	c.InputSize, c.DropoutKeep, c.Seed, c.Device, c.IntraOpThreads = 32, 1, seed, "cpu", 1
	c.LearningRate, c.DecaySteps = 0.01, 10
	switch extra {
	case "devices":
		c.Device, c.Devices = "", []string{"cpu:0", "cpu:1"}
	case "head":
		c.HeadSteps = 2
	case "fp16":
		c.Precision = PrecisionFP16
	case "fp16-replicas":
		c.Precision, c.Device, c.Devices = PrecisionFP16, "", []string{"cpu:0", "cpu:1"}
	}
	return c
}

const clusterTrainSteps, clusterGlobalBatch = 3, 4

// clusterBatch is global batch i of the training tests: the same images
// and labels whoever asks.
func clusterBatch(i int) ([]float32, []int32) {
	S := 32
	img := make([]float32, clusterGlobalBatch*S*S*3)
	for k := range img {
		img[k] = float32((k*7+i*13)%255)/127.5 - 1
	}
	lab := make([]int32, clusterGlobalBatch)
	for k := range lab {
		lab[k] = int32((k + i) % 3)
	}
	return img, lab
}

// trainTask builds the cluster model (task 1 with another seed), takes the
// chief's variables, trains clusterTrainSteps on its shards of the global
// batches (checking the steps' note sums) and prints every model variable
// as JSON.
func trainTask(srv *Server, arch string) int {
	task := srv.Cluster().Task
	cfg := clusterTrainConfig(arch, int64(1+100*task))
	cfg.Cluster, cfg.CollectiveTimeout = srv, 20*time.Second
	m, err := NewModel(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "task", task, "error:", err)
		return 1
	}
	defer m.Close()
	if err := m.BroadcastVariables(); err != nil {
		fmt.Fprintln(os.Stderr, "task", task, "error:", err)
		return 1
	}
	for i := 0; i < clusterTrainSteps; i++ {
		img, lab := clusterBatch(i)
		img, lab, n := taskShard(img, lab, 32, srv.Cluster())
		// Notes task+1 times i (none at step 0): their sum is 3i everywhere.
		r, err := m.TrainStepNote(img, lab, n, float32((task+1)*i))
		if err != nil {
			fmt.Fprintln(os.Stderr, "task", task, "error:", err)
			return 1
		}
		if r.NoteSum != float32(3*i) {
			fmt.Fprintln(os.Stderr, "task", task, "error: step", i, "note sum", r.NoteSum, "want", 3*i)
			return 1
		}
	}
	json.NewEncoder(os.Stdout).Encode(modelWeights(m))
	return 0
}

// taskShard is c's task's part of a global batch of S-pixel images, the
// contiguous slice a sharded pipeline.Loader yields: what a cluster model
// trains on.
func taskShard(img []float32, lab []int32, S int, c Cluster) ([]float32, []int32, int) {
	per, px := len(lab)/c.Size(), S*S*3
	lo := c.Task * per
	return img[lo*px : (lo+per)*px], lab[lo : lo+per], per
}

func modelWeights(m *Model) map[string][]float32 {
	out := map[string][]float32{}
	for _, v := range m.Variables() {
		w, _, err := m.ReadVariable(v.Name)
		if err != nil {
			panic(err)
		}
		out[v.Name] = w
	}
	return out
}

// TestClusterTrainMatchesSingleDevice: two tasks, each training on its half
// of every global batch with all-reduced gradients, from the chief's
// broadcast variables (task 1 was initialised with another seed), end with
// the weights of one model trained on the whole global batches: vgg_mini,
// and resnet_mini with frozen batch norm.
func TestClusterTrainMatchesSingleDevice(t *testing.T) {
	for _, arch := range []string{"vgg_mini", "resnet_mini"} {
		t.Run(arch, func(t *testing.T) { clusterMatchesSingleDevice(t, arch, arch, 1e-4) })
	}
}

// TestClusterDevicesPerTask: two tasks with two replicas each (virtual
// CPUs of each task's server), a quarter of every global batch per replica,
// end with the weights of one device trained on the whole batches.
func TestClusterDevicesPerTask(t *testing.T) {
	clusterMatchesSingleDevice(t, "vgg_mini/devices", "vgg_mini", 1e-4)
}

// TestClusterHeadPhase: a cluster run whose first 2 of 3 steps train the
// head only (all-reduced head gradients) ends with the weights of one
// device's run with the same head phase.
func TestClusterHeadPhase(t *testing.T) {
	clusterMatchesSingleDevice(t, "vgg_mini/head", "vgg_mini/head", 1e-4)
}

// TestClusterFP16: with fp16 loss scaling the tasks all-reduce the scaled
// gradients and agree on every skip: they end with the weights of one
// process training two replicas in fp16 on the same halves of the batches.
// (Not one device on whole batches: float16 rounds, and overflows, a
// half-batch's mean-loss gradients differently from the whole batch's.)
func TestClusterFP16(t *testing.T) {
	clusterMatchesSingleDevice(t, "vgg_mini/fp16", "vgg_mini/fp16-replicas", 1e-4)
}

// clusterMatchesSingleDevice trains variant on two tasks and reference on
// one device, the same global batches, and compares every variable.
func clusterMatchesSingleDevice(t *testing.T, variant, reference string, tol float64) {
	workers := testenv.LoopbackAddrs(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var ps []*taskProc
	for i := range workers {
		ps = append(ps, startTask(t, ctx, workers, i, "train:"+variant, sameRecord, 30*time.Second))
	}

	m, err := NewModel(clusterTrainConfig(reference, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := 0; i < clusterTrainSteps; i++ {
		img, lab := clusterBatch(i)
		if _, err := m.TrainStep(img, lab, clusterGlobalBatch); err != nil {
			t.Fatal(err)
		}
	}
	want := modelWeights(m)

	for i, p := range ps {
		if err := p.wait(); err != nil {
			t.Fatalf("task %d: %v\nstderr:\n%s", i, err, p.stderr.String())
		}
		var got map[string][]float32
		if err := json.Unmarshal([]byte(p.stdout.String()), &got); err != nil {
			t.Fatalf("task %d output: %v", i, err)
		}
		worst, at, err := testenv.WorstRelDiff(want, got)
		if err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
		t.Logf("task %d: worst relative difference to one device %.3g (%s)", i, worst, at)
		if worst > tol {
			t.Errorf("task %d: weights differ from one device's by %.3g relative (%s)", i, worst, at)
		}
	}
}

type taskProc struct {
	cmd            *exec.Cmd
	stdout, stderr strings.Builder
	lines          chan string
}

// startTask starts task i of workers as a subprocess of the test binary,
// killed at the latest when ctx ends.
func startTask(t testing.TB, ctx context.Context, workers []string, i int, mode string, record map[string]string, timeout time.Duration) *taskProc {
	t.Helper()
	rec, _ := json.Marshal(record)
	p := &taskProc{lines: make(chan string, 16)}
	p.cmd = exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	p.cmd.Env = append(os.Environ(), "TLEARN_CLUSTER_TASK="+strconv.Itoa(i), "TLEARN_CLUSTER_WORKERS="+strings.Join(workers, ","),
		"TLEARN_CLUSTER_MODE="+mode, "TLEARN_CLUSTER_RECORD="+string(rec), "TLEARN_CLUSTER_TIMEOUT="+timeout.String())
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 64<<20) // the weights are one JSON line
		for sc.Scan() {
			p.stdout.WriteString(sc.Text() + "\n")
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	return p
}

// wait waits for the end of the process and its output.
func (p *taskProc) wait() error {
	for range p.lines {
	}
	return p.cmd.Wait()
}

var sameRecord = map[string]string{"arch": "vgg_mini", "batch": "8", "seed": "1"}

// TestClusterAllReduceBroadcast: two tasks on 127.0.0.1, each its own
// process and TensorFlow server, handshake (the chief's record broadcast,
// flags gathered), then all-reduce a mean and a sum and gather byte strings
// of different lengths (and empty ones): both get the same exact results.
func TestClusterAllReduceBroadcast(t *testing.T) {
	workers := testenv.LoopbackAddrs(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var ps []*taskProc
	for i := range workers {
		ps = append(ps, startTask(t, ctx, workers, i, "reduce", sameRecord, 30*time.Second))
	}
	for i, p := range ps {
		if err := p.wait(); err != nil {
			t.Fatalf("task %d: %v\nstderr:\n%s", i, err, p.stderr.String())
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(p.stdout.String()), &got); err != nil {
			t.Fatalf("task %d output %q: %v", i, p.stdout.String(), err)
		}
		// Tasks contribute [1,10] and [2,20]: mean [1.5,15]; sums [3,30,300];
		// the gathers every task's string, then two empty ones.
		want := map[string]any{"mean": []float32{1.5, 15}, "sum": []float32{3, 30, 300},
			"gather": []string{"chief", "task one, longer", "", ""}}
		for k, w := range want {
			if fmt.Sprint(got[k]) != fmt.Sprint(w) {
				t.Errorf("task %d %s = %v, want %v", i, k, got[k], w)
			}
		}
	}
}

// TestClusterHandshakeMismatch: a task started with another batch and seed
// is refused with the settings that differ; the chief names the task.
func TestClusterHandshakeMismatch(t *testing.T) {
	workers := testenv.LoopbackAddrs(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	other := map[string]string{"arch": "vgg_mini", "batch": "16", "seed": "2"}
	p0 := startTask(t, ctx, workers, 0, "reduce", sameRecord, 30*time.Second)
	p1 := startTask(t, ctx, workers, 1, "reduce", other, 30*time.Second)
	err0, err1 := p0.wait(), p1.wait()
	if err0 == nil || err1 == nil {
		t.Fatalf("both tasks should fail: %v, %v", err0, err1)
	}
	if s := p1.stderr.String(); !strings.Contains(s, `batch: here "16", chief "8"`) || !strings.Contains(s, `seed: here "2", chief "1"`) || strings.Contains(s, "arch") {
		t.Errorf("task 1 should name batch and seed only:\n%s", s)
	}
	if s := p0.stderr.String(); !strings.Contains(s, "task 1 ("+workers[1]+") started with a different command") {
		t.Errorf("the chief should name task 1:\n%s", s)
	}
}

// TestClusterPeerKilled: the non-chief is killed (SIGKILL) after the
// handshake; the chief's all-reduce fails with an error naming the lost
// task instead of waiting for it.
func TestClusterPeerKilled(t *testing.T) {
	workers := testenv.LoopbackAddrs(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p0 := startTask(t, ctx, workers, 0, "reduce", sameRecord, 10*time.Second)
	p1 := startTask(t, ctx, workers, 1, "hang", sameRecord, 10*time.Second)
	select {
	case l := <-p1.lines:
		if l != "handshook" {
			t.Fatalf("task 1 said %q", l)
		}
	case <-ctx.Done():
		t.Fatal("task 1 never handshook")
	}
	p1.cmd.Process.Kill()
	p1.wait()
	err := p0.wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("chief should exit 1 by itself, got %v\nstderr:\n%s", err, p0.stderr.String())
	}
	if s := p0.stderr.String(); !strings.Contains(s, "lost task 1 ("+workers[1]+")") {
		t.Errorf("the chief should name the lost task 1:\n%s", s)
	}
	t.Logf("chief: %s", strings.TrimSpace(p0.stderr.String()))
}

// TestStartServerPortInUse: a port already taken is refused by name.
func TestStartServerPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = StartServer(Cluster{Workers: []string{fmt.Sprintf("127.0.0.1:%d", port), "127.0.0.1:1"}, Task: 0})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("port %d is not free", port)) {
		t.Fatalf("got %v", err)
	}
}

// TestClusterValidate: bad clusters are refused before any server starts.
func TestClusterValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Cluster
		want string
	}{
		{Cluster{}, "no worker addresses"},
		{Cluster{Workers: []string{"a:1", "b"}, Task: 0}, `worker 1 address "b"`},
		{Cluster{Workers: []string{"a:1", "a:1"}, Task: 0}, "same address"},
		{Cluster{Workers: []string{"a:1", "b:1"}, Task: 2}, "task index 2 out of range: 2 workers (0..1)"},
		{Cluster{Workers: []string{"a:1", "b:1"}, Task: -1}, "out of range"},
	} {
		err := tc.c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.c, err, tc.want)
		}
	}
	if err := (Cluster{Workers: []string{"a:1", "b:1"}, Task: 1}).Validate(); err != nil {
		t.Error(err)
	}
}

// TestRemoteTargets: the lost task is read from TensorFlow's gRPC error
// when every server still accepts connections (a task being killed).
func TestRemoteTargets(t *testing.T) {
	c := Cluster{Workers: []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}, Task: 0}
	for _, tc := range []struct {
		msg  string
		want []int
	}{
		{"Additional GRPC error information from remote target /job:worker/replica:0/task:1 while calling /tensorflow.WorkerService/RecvBuf", []int{1}},
		{"remote target /job:worker/replica:0/task:2 ... remote target /job:worker/replica:0/task:2", []int{2}},
		{"From /job:worker/replica:0/task:0: remote target /job:worker/replica:0/task:0", nil},
		{"remote target /job:worker/replica:0/task:7", nil},
		{"deadline exceeded", nil},
	} {
		if got := remoteTargets(c, tc.msg); !slices.Equal(got, tc.want) {
			t.Errorf("remoteTargets(%q) = %v, want %v", tc.msg, got, tc.want)
		}
	}
}
