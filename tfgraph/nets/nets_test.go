package nets_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/internal/testenv"
	"github.com/tlearn/tlearn/tfgraph/nets"
	"github.com/tlearn/tlearn/tfgraph/slim"
)

// buildVars builds arch's eval forward at size px (nets.Net.Variables) and
// returns its variables, checking that the logits are [?, classes].
func buildVars(t *testing.T, arch string, size, classes int) []*slim.Var {
	t.Helper()
	net, err := nets.Lookup(arch)
	if err != nil {
		t.Fatal(err)
	}
	vs, out, err := net.Variables(size, classes)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Logits.Shape(); got.NumDimensions() != 2 || got.Size(1) != int64(classes) {
		t.Errorf("%s logits shape %v, want [?, %d]", arch, got, classes)
	}
	return vs
}

// TestSlimNames: every network's variables have exactly the names and
// shapes (in the same order) of those TF-Slim's own nets/ code creates
// (scripts/slim_reference.py --names-only), and the head scopes hold the
// logits layer.
func TestSlimNames(t *testing.T) {
	for _, tc := range []struct {
		arch          string
		size, classes int
		heads         []string // scopes whose variables are the head
		deep          bool     // another depth of a net tested here: skipped with -short
	}{
		{"resnet_mini", 64, 5, []string{"resnet_mini/logits"}, false},
		{"resnet_v1_50", 224, 1000, []string{"resnet_v1_50/logits"}, false},
		{"resnet_v1_101", 224, 1000, []string{"resnet_v1_101/logits"}, true},
		{"resnet_v1_152", 224, 1000, []string{"resnet_v1_152/logits"}, true},
		{"resnet_v2_50", 224, 1001, []string{"resnet_v2_50/logits"}, false},
		{"resnet_v2_101", 224, 1001, []string{"resnet_v2_101/logits"}, true},
		{"resnet_v2_152", 224, 1001, []string{"resnet_v2_152/logits"}, true},
		{"vgg_16", 224, 1000, []string{"vgg_16/fc8"}, false},
		{"vgg_19", 224, 1000, []string{"vgg_19/fc8"}, false},
		{"alexnet_v2", 224, 1000, []string{"alexnet_v2/fc8"}, false},
		// The published checkpoint's 1001 classes, at the default size and
		// at the smallest (whose aux conv is 1×1: Conv2d_2a_1x1).
		{"inception_v3", 299, 1001, []string{"InceptionV3/Logits", "InceptionV3/AuxLogits"}, false},
		{"inception_v3", 107, 7, []string{"InceptionV3/Logits", "InceptionV3/AuxLogits"}, false},
	} {
		t.Run(tc.arch+"_"+itoa(tc.size), func(t *testing.T) {
			if testing.Short() && tc.deep {
				t.Skip("a deeper variant of a net tested here: skipped with -short")
			}
			checkNames(t, "slim_reference.py", tc.arch, tc.size, tc.classes, tc.heads...)
		})
	}
}

// checkNames compares the variables of arch at size px with those
// scripts/SCRIPT --names-only writes: the same names in the same order, the
// same shapes, and Head set exactly on the variables under the head scopes.
func checkNames(t *testing.T, script, arch string, size, classes int, heads ...string) {
	t.Helper()
	ref := referenceVars(t, script, arch, size, classes)
	var got []string
	n := 0
	for _, v := range buildVars(t, arch, size, classes) {
		got = append(got, v.Name)
		if want := ref.Shapes[v.Name]; want != nil && !slices.Equal(v.Shape, want) {
			t.Errorf("%s: shape %v, reference %v", v.Name, v.Shape, want)
		}
		head := false
		for _, h := range heads {
			head = head || strings.HasPrefix(v.Name, h+"/")
		}
		if v.Head != head {
			t.Errorf("%s: Head %v", v.Name, v.Head)
		}
		if v.Head {
			n++
		}
	}
	if n < 2 {
		t.Errorf("%d head variables, want at least weights and biases", n)
	}
	if !slices.Equal(got, ref.Names) {
		t.Errorf("%d variables, reference has %d; first difference: %s", len(got), len(ref.Names), firstDiff(got, ref.Names))
	}
	t.Logf("%s: %d variables match the reference's", arch, len(got))
}

// refVars is the variables.json a reference script writes.
type refVars struct {
	Names  []string           `json:"names"`
	Shapes map[string][]int64 `json:"shapes"`
}

// referenceVars runs scripts/SCRIPT --names-only for arch and reads its
// variables.json.
func referenceVars(t *testing.T, script, arch string, size, classes int) refVars {
	t.Helper()
	dir := t.TempDir()
	testenv.RunPython(t, filepath.Join(testenv.ModuleRoot(t), "scripts", script), "--out", dir, "--arch", arch,
		"--input-size", itoa(size), "--classes", itoa(classes), "--names-only")
	var ref refVars
	b, err := os.ReadFile(filepath.Join(dir, "variables.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return "#" + itoa(i) + " " + a[i] + " vs reference " + b[i]
		}
	}
	return "one list is a prefix of the other"
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestCheckInput: sizes outside a net's range are refused naming the range.
func TestCheckInput(t *testing.T) {
	vgg, _ := nets.Lookup("vgg_19")
	if err := vgg.CheckInput(64); err == nil {
		t.Error("vgg_19 at 64 px accepted")
	} else {
		t.Log(err)
	}
	if err := vgg.CheckInput(224); err != nil {
		t.Error(err)
	}
	if _, err := nets.Lookup("resnet_v9"); err == nil {
		t.Error("unknown arch accepted")
	}
}

// TestCost: the parameter and multiply-accumulate counts of the published
// nets equal the figures of their papers and of Keras/torchvision (for
// 1000 classes: VGG16 138.36 M params / 15.47 GMAC, MobileNet v1 4.23 M /
// 0.57 GMAC, MobileNet v2 3.50 M / 0.30 GMAC; ResNet-50 25.56 M and 3.48
// GMAC, counted by hand for TF-Slim's layout, whose blocks stride in their
// last unit — Keras's and torchvision's, striding in the first, are 3.9 and
// 4.1 GMAC), and `-v` prints the README's params and GMAC columns.
func TestCost(t *testing.T) {
	want := map[string][2]float64{ // arch: params (M), GMAC at the default size, published
		"vgg_16": {138.36, 15.47}, "resnet_v1_50": {25.56, 3.48}, "mobilenet_v1": {4.23, 0.57}, "mobilenet_v2": {3.50, 0.30},
	}
	for _, name := range nets.Names() {
		net, _ := nets.Lookup(name)
		classes := net.CheckpointClasses
		if classes == 0 {
			classes = 1000
		}
		c, err := nets.CostOf(net, net.DefaultInput, classes)
		if err != nil {
			t.Fatal(err)
		}
		params, gmac := float64(c.Params)/1e6, float64(c.MACs)/1e9
		t.Logf("| %s | %d | %d | %.2f M | %.3f |", name, net.DefaultInput, classes, params, gmac)
		if w, ok := want[name]; ok {
			// 1 % for the params (1001-class heads), 5 % for GMAC (published
			// figures round, and differ on where the stride sits).
			if params < w[0]*0.99 || params > w[0]*1.01 || gmac < w[1]*0.95 || gmac > w[1]*1.05 {
				t.Errorf("%s: %.2f M params, %.3f GMAC; published %.2f M, %.2f GMAC", name, params, gmac, w[0], w[1])
			}
		}
	}
}
