package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlearn/tlearn/internal/testdata"
	"github.com/tlearn/tlearn/tfgraph"
)

// loopbackAddrs returns n 127.0.0.1 addresses whose ports were free a
// moment ago.
func loopbackAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var ls []net.Listener
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

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
// 1e-4 relative; the non-chief writes nothing into its --out.
func TestClusterTrainTwoProcesses(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	testdata.Folders(t, data, 3, 12, 40, 5)
	single, chief, other := filepath.Join(tmp, "single"), filepath.Join(tmp, "chief"), filepath.Join(tmp, "other")
	var so, se strings.Builder
	if code := run(context.Background(), append([]string{"tlearn"}, strings.Fields(clusterArgs(data, single))...), &so, &se); code != 0 {
		t.Fatalf("single-device run: exit %d\n%s", code, se.String())
	}

	addrs := loopbackAddrs(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c0, e0 := tlearnProc(t, ctx, clusterArgs(data, chief)+" --cluster "+strings.Join(addrs, ",")+" --task 0")
	tfConfig := fmt.Sprintf(`{"cluster": {"worker": ["%s", "%s"]}, "task": {"type": "worker", "index": 1}}`, addrs[0], addrs[1])
	c1, e1 := tlearnProc(t, ctx, clusterArgs(data, other), "TF_CONFIG="+tfConfig)
	err0, err1 := c0.Wait(), c1.Wait()
	if err0 != nil || err1 != nil {
		t.Fatalf("chief: %v\n%s\ntask 1: %v\n%s", err0, e0.String(), err1, e1.String())
	}
	if _, err := os.Stat(other); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("task 1 wrote its --out %s: %v", other, err)
	}

	cfg := tfgraph.DefaultConfig("vgg_mini", 3)
	cfg.InputSize, cfg.DropoutKeep, cfg.IntraOpThreads = 32, 1, 1
	m, err := tfgraph.NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	load := func(dir string) map[string][]float32 {
		ckpt, err := tfgraph.LatestCheckpoint(dir)
		if err != nil || !strings.HasSuffix(ckpt, "model.ckpt-4") {
			t.Fatalf("%s: latest checkpoint %q, %v; want model.ckpt-4", dir, ckpt, err)
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
	want, got := load(single), load(chief)
	worst, at := 0.0, ""
	for name, w := range want {
		g := got[name]
		if len(g) != len(w) {
			t.Fatalf("%s: %d values, want %d", name, len(g), len(w))
		}
		var num, den float64
		for k := range w {
			d := float64(g[k] - w[k])
			num, den = num+d*d, den+float64(w[k])*float64(w[k])
		}
		if r := math.Sqrt(num / max(den, 1e-30)); r > worst {
			worst, at = r, name
		}
	}
	t.Logf("2 processes vs one device: worst relative difference %.3g (%s) over %d tensors", worst, at, len(want))
	if worst > 1e-4 {
		t.Errorf("2 processes differ from one device by %.3g relative (%s)", worst, at)
	}
}
