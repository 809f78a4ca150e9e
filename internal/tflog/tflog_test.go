package tflog

import (
	"strings"
	"testing"
)

// TestFilterKeepsOnlyNonTensorFlowLines: TensorFlow's and absl's lines and
// their continuation lines are dropped; fatal lines and other text pass.
func TestFilterKeepsOnlyNonTensorFlowLines(t *testing.T) {
	in := []string{
		"2026-12-02 16:59:23.823808: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on.",
		"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
		"I0000 00:00:1796231311.782397   14996 mlir_graph_optimization_pass.cc:401] MLIR V1 optimization pass is not enabled",
		"2026-12-02 17:00:00.000001: W tensorflow/core/common_runtime/colocation_graph.cc:1218] Failed to place the graph without changing the devices",
		"Colocation Debug Info:",
		"  Root Member(assigned_device_name_index_=-1 requested_device_name_='/device:GPU:0')",
		"2026-12-02 17:00:00.000002: F tensorflow/core/framework/tensor.cc:1] Check failed: boom",
		"plain text from elsewhere",
	}
	var kept []string
	f := &filter{}
	for _, l := range in {
		if f.keep(l) {
			kept = append(kept, l)
		}
	}
	want := in[6:]
	if strings.Join(kept, "\n") != strings.Join(want, "\n") {
		t.Errorf("kept\n%s\nwant\n%s", strings.Join(kept, "\n"), strings.Join(want, "\n"))
	}
}

func TestWanted(t *testing.T) {
	if Wanted([]string{"train", "--data", "x"}, "") || !Wanted([]string{"predict", "--tf-log"}, "") || !Wanted(nil, "1") ||
		Wanted([]string{"--", "--tf-log"}, "0") {
		t.Error("Wanted misreads --tf-log / TLEARN_TF_LOG")
	}
}
