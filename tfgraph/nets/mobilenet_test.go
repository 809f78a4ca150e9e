package nets_test

import (
	"strings"
	"testing"

	"github.com/tlearn/tlearn/tfgraph/nets"
)

// TestMobileNetNames: mobilenet_v1, mobilenet_v2 and mobilenet_v2_140 have
// exactly the variable names and shapes, in creation order, of the TF-Slim
// structure scripts/mobilenet_reference.py builds with tf-slim's layers
// (MobileNet is not in the tf-slim package), with the 1001-class head of the
// published checkpoints under Logits.
func TestMobileNetNames(t *testing.T) {
	for _, tc := range []struct {
		arch string
		// Weights, biases, beta and gamma (no moving statistics): Keras
		// applications' trainable counts of the same nets at 1000 classes
		// (4,231,976; 3,504,872; 6,108,776) plus the 1001st class's row.
		params int64
	}{
		{"mobilenet_v1", 4231976 + 1024 + 1},
		{"mobilenet_v2", 3504872 + 1280 + 1},
		{"mobilenet_v2_140", 6108776 + 1792 + 1},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			checkNames(t, "mobilenet_reference.py", tc.arch, 224, 1001, scopeOf(tc.arch)+"/Logits")
			var n int64
			for _, v := range buildVars(t, tc.arch, 224, 1001) {
				if !strings.HasPrefix(v.Name[strings.LastIndex(v.Name, "/")+1:], "moving_") {
					p := int64(1)
					for _, d := range v.Shape {
						p *= d
					}
					n += p
				}
			}
			if n != tc.params {
				t.Errorf("%s: %d parameters, want %d", tc.arch, n, tc.params)
			}
		})
	}
}

// scopeOf is the variable scope of arch.
func scopeOf(arch string) string {
	n, _ := nets.Lookup(arch)
	return n.Scope
}
