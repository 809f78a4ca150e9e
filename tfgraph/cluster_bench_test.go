package tfgraph

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tlearn/tlearn/internal/testenv"
)

// benchConfig is the model of the data-parallel benchmarks: vgg_mini at 64
// px, 101 classes, no dropout, one intra-op thread per process.
func benchConfig() Config {
	cfg := DefaultConfig("vgg_mini", 101)
	cfg.InputSize, cfg.DecaySteps, cfg.Seed, cfg.DropoutKeep = 64, 1000, 1, 1
	cfg.Device, cfg.IntraOpThreads, cfg.InterOpThreads = "cpu", 1, 1
	return cfg
}

// benchTask is one task of BenchmarkClusterTwoProcesses (spec
// "STEPS:BATCH", BATCH the global batch): after the broadcast and two
// warm-up steps it times STEPS training steps and prints {"ms_per_step"}.
func benchTask(srv *Server, spec string) int {
	task := srv.Cluster().Task
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "task", task, "error:", err)
		return 1
	}
	steps, batch, ok := strings.Cut(spec, ":")
	n, err1 := strconv.Atoi(steps)
	global, err2 := strconv.Atoi(batch)
	if !ok || err1 != nil || err2 != nil {
		return fail(fmt.Errorf("bench spec %q: want STEPS:BATCH", spec))
	}
	cfg := benchConfig()
	cfg.Cluster, cfg.CollectiveTimeout = srv, time.Minute
	m, err := NewModel(cfg)
	if err != nil {
		return fail(err)
	}
	defer m.Close()
	if err := m.BroadcastVariables(); err != nil {
		return fail(err)
	}
	img, lab := randomBatch(global, 64, 101, 1)
	img, lab, per := taskShard(img, lab, 64, srv.Cluster())
	var start time.Time
	for i := -2; i < n; i++ {
		if i == 0 {
			start = time.Now()
		}
		if _, err := m.TrainStep(img, lab, per); err != nil {
			return fail(err)
		}
	}
	ms := float64(time.Since(start).Microseconds()) / 1e3 / float64(n)
	json.NewEncoder(os.Stdout).Encode(map[string]float64{"ms_per_step": ms})
	return 0
}

// BenchmarkClusterTwoProcesses: training steps of vgg_mini (64 px) in one
// process on one thread against two processes (two TensorFlow servers on
// 127.0.0.1, one thread each) all-reducing their gradients, at a global
// batch of 16 (throughput) and 2 (one image per task: the step is mostly
// the all-reduce, so its time is the communication overhead). b.N is the
// number of timed steps of each task; run it as bench/dataparallel.sh does.
func BenchmarkClusterTwoProcesses(b *testing.B) {
	for _, batch := range []int{16, 2} {
		b.Run(fmt.Sprintf("one_process/batch%d", batch), func(b *testing.B) {
			m := newModel(b, benchConfig())
			img, lab := randomBatch(batch, 64, 101, 1)
			for range 2 {
				if _, err := m.TrainStep(img, lab, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.TrainStep(img, lab, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/step")
		})
		b.Run(fmt.Sprintf("two_processes/batch%d", batch), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			workers := testenv.LoopbackAddrs(b, 2)
			mode := fmt.Sprintf("bench:%d:%d", b.N, batch)
			ps := []*taskProc{startTask(b, ctx, workers, 0, mode, sameRecord, time.Minute), startTask(b, ctx, workers, 1, mode, sameRecord, time.Minute)}
			var ms float64
			for i, p := range ps {
				if err := p.wait(); err != nil {
					b.Fatalf("task %d: %v\n%s", i, err, p.stderr.String())
				}
				var got map[string]float64
				if err := json.Unmarshal([]byte(p.stdout.String()), &got); err != nil {
					b.Fatalf("task %d output %q: %v", i, p.stdout.String(), err)
				}
				ms = max(ms, got["ms_per_step"])
			}
			b.ReportMetric(float64(batch)/(ms/1e3), "images/s")
			b.ReportMetric(ms, "ms/step")
		})
	}
}
