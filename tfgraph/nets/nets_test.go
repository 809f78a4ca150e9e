package nets_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tlearn/tlearn/internal/testenv"
	"github.com/tlearn/tlearn/tfgraph/nets"
	"github.com/tlearn/tlearn/tfgraph/slim"
)

// buildVars builds net's eval forward at size px on a fresh graph (no
// session: full-size nets cost no memory) and returns its variables.
func buildVars(t *testing.T, arch string, size, classes int) []*slim.Var {
	t.Helper()
	net, err := nets.Lookup(arch)
	if err != nil {
		t.Fatal(err)
	}
	s := op.NewScope()
	x := op.Placeholder(s.SubScope("images"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1, int64(size), int64(size), 3)))
	vs := slim.NewVars(s, 1)
	vs.HeadScopes = net.HeadScopeNames()
	b := slim.New(s, vs, slim.Mode{})
	out := net.Build(b, x, classes)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	if got := out.Logits.Shape(); got.NumDimensions() != 2 || got.Size(1) != int64(classes) {
		t.Errorf("%s logits shape %v, want [?, %d]", arch, got, classes)
	}
	return vs.All()
}

// TestSlimNames: every network's variables have exactly the names and
// shapes (in the same order) of those TF-Slim's own nets/ code creates
// (scripts/slim_reference.py --names-only), and the head scopes hold the
// logits layer.
func TestSlimNames(t *testing.T) {
	root := testenv.ModuleRoot(t)
	for _, tc := range []struct {
		arch          string
		size, classes int
		heads         []string // scopes whose variables are the head
	}{
		{"resnet_mini", 64, 5, []string{"resnet_mini/logits"}},
		{"resnet_v1_50", 224, 1000, []string{"resnet_v1_50/logits"}},
		{"resnet_v1_101", 224, 1000, []string{"resnet_v1_101/logits"}},
		{"resnet_v1_152", 224, 1000, []string{"resnet_v1_152/logits"}},
		{"vgg_16", 224, 1000, []string{"vgg_16/fc8"}},
		{"vgg_19", 224, 1000, []string{"vgg_19/fc8"}},
		{"alexnet_v2", 224, 1000, []string{"alexnet_v2/fc8"}},
		// The published checkpoint's 1001 classes, at the default size and
		// at the smallest (whose aux conv is 1×1: Conv2d_2a_1x1).
		{"inception_v3", 299, 1001, []string{"InceptionV3/Logits", "InceptionV3/AuxLogits"}},
		{"inception_v3", 107, 7, []string{"InceptionV3/Logits", "InceptionV3/AuxLogits"}},
	} {
		t.Run(tc.arch+"_"+itoa(tc.size), func(t *testing.T) {
			if testing.Short() && (tc.arch == "resnet_v1_101" || tc.arch == "resnet_v1_152") {
				t.Skip("deeper resnet_v1 variants of resnet_v1_50's code: skipped with -short")
			}
			dir := t.TempDir()
			testenv.RunPython(t, filepath.Join(root, "scripts", "slim_reference.py"), "--out", dir, "--arch", tc.arch,
				"--input-size", itoa(tc.size), "--classes", itoa(tc.classes), "--names-only")
			var ref struct {
				Names  []string           `json:"names"`
				Shapes map[string][]int64 `json:"shapes"`
			}
			b, err := os.ReadFile(filepath.Join(dir, "variables.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &ref); err != nil {
				t.Fatal(err)
			}
			vs := buildVars(t, tc.arch, tc.size, tc.classes)
			var got []string
			for _, v := range vs {
				got = append(got, v.Name)
				if want := ref.Shapes[v.Name]; want != nil && !slices.Equal(v.Shape, want) {
					t.Errorf("%s: shape %v, slim %v", v.Name, v.Shape, want)
				}
				head := false
				for _, h := range tc.heads {
					head = head || strings.HasPrefix(v.Name, h+"/")
				}
				if v.Head != head {
					t.Errorf("%s: Head %v", v.Name, v.Head)
				}
			}
			if !slices.Equal(got, ref.Names) {
				t.Errorf("%d variables, slim has %d; first difference: %s", len(got), len(ref.Names), firstDiff(got, ref.Names))
			}
			t.Logf("%s: %d variables match slim's", tc.arch, len(got))
		})
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return "#" + itoa(i) + " " + a[i] + " vs slim " + b[i]
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
