package tfgraph

import (
	"os"
	"testing"
)

// TestDumpGraphForProfile writes the training graph of $TLEARN_DUMP_ARCH at
// $TLEARN_DUMP_SIZE px as a GraphDef to $TLEARN_DUMP_GRAPH, for op-level
// profiling with TensorFlow's RunMetadata step stats (bench/profile_graph.py).
// Skipped unless TLEARN_DUMP_GRAPH is set.
func TestDumpGraphForProfile(t *testing.T) {
	path := os.Getenv("TLEARN_DUMP_GRAPH")
	if path == "" {
		t.Skip("TLEARN_DUMP_GRAPH not set: nothing to dump")
	}
	arch := os.Getenv("TLEARN_DUMP_ARCH")
	if arch == "" {
		arch = "vgg_19"
	}
	cfg := DefaultConfig(arch, 6)
	cfg.ConvAlgorithm = os.Getenv("TLEARN_DUMP_CONV")
	if arch == "vgg_mini" {
		cfg.InputSize = 64
	}
	cfg.DecaySteps = 1000
	m := newModel(t, cfg)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := m.graph.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	t.Logf("ops: images %s labels %s train fetches %s %s %s %s, probs %s, init via variables",
		m.images.Op.Name(), m.labels.Op.Name(), m.trainLoss.Op.Name(), m.totalLoss.Op.Name(), m.lr.Op.Name(), m.stepAfter.Op.Name(), m.probs.Op.Name())
	var inits []string
	for _, v := range m.vars {
		inits = append(inits, v.Init.Name())
	}
	os.WriteFile(path+".inits", []byte(joinLines(inits)), 0o644)
	os.WriteFile(path+".fetches", []byte(joinLines([]string{m.images.Op.Name(), m.labels.Op.Name(),
		m.trainLoss.Op.Name(), m.totalLoss.Op.Name(), m.lr.Op.Name(), m.stepAfter.Op.Name(), m.probs.Op.Name()})), 0o644)
}

func joinLines(s []string) string {
	out := ""
	for _, x := range s {
		out += x + "\n"
	}
	return out
}
