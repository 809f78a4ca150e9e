package tfgraph

import (
	"fmt"
	"strings"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tlearn/tlearn/tfgraph/nets"
	"github.com/tlearn/tlearn/tfgraph/slim"
)

// graphOnly builds cfg's model graph without a session, so that devices
// this machine lacks (GPUs) can be named.
func graphOnly(t *testing.T, cfg Config) *tf.Graph {
	t.Helper()
	cfg = cfg.withDefaults()
	net, err := nets.Lookup(cfg.Arch)
	if err != nil {
		t.Fatal(err)
	}
	m := &Model{cfg: cfg, net: net, byName: map[string]*slim.Var{}}
	if err := m.build(); err != nil {
		t.Fatal(err)
	}
	return m.graph
}

// collectives returns the graph's CollectiveReduceV2 ops.
func collectives(g *tf.Graph) []*tf.Operation {
	var out []*tf.Operation
	for _, o := range g.Operations() {
		if o.Type() == "CollectiveReduceV2" {
			out = append(out, g.Operation(o.Name()))
		}
	}
	return out
}

// TestDefaultReducerGraph: with nil Config.ReduceGradients the replicas on
// gpu:0,gpu:1 (a graph only: no GPU here) all-reduce with one
// CollectiveReduceV2 per replica, each on its replica's GPU with the "nccl"
// hint and fed by a fusion on that GPU; on cpu:0,cpu:1 the default is
// MeanGradients (no collective), and forcing CollectiveMeanGradients there
// gives the collectives without the hint (TensorFlow's ring).
func TestDefaultReducerGraph(t *testing.T) {
	for _, tc := range []struct {
		name    string
		devices []string
		reduce  GradientReducer
		want    int    // collectives
		hint    string // their communication_hint
	}{
		{"gpu/default", []string{"gpu:0", "gpu:1"}, nil, 2, "nccl"},
		{"cpu/default", []string{"cpu:0", "cpu:1"}, nil, 0, ""},
		{"cpu/collective", []string{"cpu:0", "cpu:1", "cpu:2"}, CollectiveMeanGradients, 3, "auto"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := replicaCase("vgg_mini")
			cfg.Devices, cfg.ReduceGradients = tc.devices, tc.reduce
			g := graphOnly(t, cfg)
			cs := collectives(g)
			if len(cs) != tc.want {
				t.Fatalf("%d CollectiveReduceV2 ops, want %d", len(cs), tc.want)
			}
			typ := strings.ToUpper(strings.Split(tc.devices[0], ":")[0])
			seen := map[int]bool{}
			for _, c := range cs {
				r, i := 0, strings.Index(c.Name(), "replica_")
				if _, err := fmt.Sscanf(c.Name()[max(i, 0):], "replica_%d/", &r); i < 0 || err != nil || seen[r] {
					t.Fatalf("%s: not one replica's own collective (%v)", c.Name(), err)
				}
				seen[r] = true
				want := fmt.Sprintf("/device:%s:%d", typ, r)
				if c.Device() != want {
					t.Errorf("%s on %q, want %s", c.Name(), c.Device(), want)
				}
				if h, err := c.Attr("communication_hint"); err != nil || h != tc.hint {
					t.Errorf("%s: communication_hint %v (%v), want %q", c.Name(), h, err, tc.hint)
				}
				if timeout, err := c.Attr("timeout_seconds"); err != nil || timeout != float32(0) {
					t.Errorf("%s: timeout_seconds %v (%v), want none", c.Name(), timeout, err)
				}
				fuse := strings.TrimSuffix(c.Name(), "allreduce/CollectiveReduceV2") + "fuse/ConcatV2"
				if in := g.Operation(fuse); in == nil || in.Device() != want {
					t.Errorf("replica %d's fusion %s: %v, want it on %s", r, fuse, in, want)
				}
			}
		})
	}
}

// TestCollectiveReducerPlacementRan: where a traced two-replica step with
// CollectiveMeanGradients ran: each replica's fusion and CollectiveReduceV2
// on its own virtual CPU, the split back to per-variable gradients on the
// first.
func TestCollectiveReducerPlacementRan(t *testing.T) {
	cfg := replicaCase("vgg_mini")
	cfg.Devices, cfg.ReduceGradients = []string{"cpu:0", "cpu:1"}, CollectiveMeanGradients
	ran := map[string]int{}
	for dev, nodes := range tracedReplicaNodes(t, cfg) {
		for _, n := range nodes {
			i := strings.Index(n, "reduce_gradients/")
			if i < 0 {
				continue
			}
			rest := n[i+len("reduce_gradients/"):]
			want := "device:CPU:0" // the unfusion
			for r := range 2 {
				if strings.HasPrefix(rest, fmt.Sprintf("replica_%d/", r)) {
					want = fmt.Sprintf("device:CPU:%d", r)
					if strings.Contains(rest, "allreduce") {
						ran[fmt.Sprintf("allreduce on CPU:%d", r)]++
					}
				}
			}
			if strings.HasPrefix(rest, "unfuse") {
				ran["unfuse"]++
			}
			if !strings.HasSuffix(dev, want) {
				t.Errorf("%s ran on %s, want %s", n, dev, want)
			}
		}
	}
	t.Logf("reduction kernels: %v", ran)
	for _, k := range []string{"allreduce on CPU:0", "allreduce on CPU:1", "unfuse"} {
		if ran[k] == 0 {
			t.Errorf("no %s kernel ran: %v", k, ran)
		}
	}
}

// TestCollectiveMeanGradientsErrors: what the collective reducer refuses —
// gradients without a device, two replicas on one device, a cluster task's
// devices — and that one replica passes through.
func TestCollectiveMeanGradientsErrors(t *testing.T) {
	grads := func(devices ...string) (*op.Scope, [][]tf.Output) {
		s := op.NewScope()
		var out [][]tf.Output
		for r, d := range devices {
			rs := s.SubScope(fmt.Sprintf("r%d", r)).WithDevice(d)
			out = append(out, []tf.Output{op.Const(rs.SubScope("a"), []float32{1, 2}), op.Const(rs.SubScope("b"), float32(3))})
		}
		return s, out
	}
	for _, tc := range []struct {
		devices []string
		want    string
	}{
		{[]string{"", "/device:CPU:1"}, "has no device"},
		{[]string{"/device:CPU:1", "/device:CPU:1"}, "both on /device:CPU:1"},
		{[]string{"/job:worker/replica:0/task:0/device:CPU:0", "/job:worker/replica:0/task:0/device:CPU:1"}, "cluster task's device"},
	} {
		s, gs := grads(tc.devices...)
		if _, err := CollectiveMeanGradients(s, gs); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("devices %q: err %v, want %q", tc.devices, err, tc.want)
		}
	}
	s, gs := grads("/device:CPU:0")
	out, err := CollectiveMeanGradients(s, gs)
	if err != nil || len(out) != 2 || out[0] != gs[0][0] {
		t.Errorf("one replica: %v, %v; want its gradients as they are", out, err)
	}
}
