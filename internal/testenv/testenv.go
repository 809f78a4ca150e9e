// Package testenv finds what tests need from outside Go: the module root and
// the Python interpreter with the reference TensorFlow (installed by
// `make pydeps`). Tests that need Python skip, with the reason, when it is absent.
package testenv

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

// ModuleRoot returns the directory holding go.mod, walking up from the
// working directory (go test runs each package in its own folder).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Python returns the reference Python interpreter: $TLEARN_PYTHON (the
// Makefile exports it) or .cache/pyenv/bin/python under the module root. It
// skips the test when neither exists, or when CI requires it and it is missing
// it fails instead (TLEARN_REQUIRE_PYTHON=1), so a broken set-up cannot pass silently.
func Python(t testing.TB) string {
	t.Helper()
	candidates := []string{os.Getenv("TLEARN_PYTHON"), filepath.Join(ModuleRoot(t), ".cache", "pyenv", "bin", "python")}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("TLEARN_REQUIRE_PYTHON") == "1" {
		t.Fatal("reference Python not found: run `make pydeps` (TLEARN_REQUIRE_PYTHON=1 is set)")
	}
	t.Skip("reference Python with TensorFlow not found: run `make pydeps` or set TLEARN_PYTHON")
	return ""
}

// RunPython runs the interpreter with args and returns combined output,
// failing the test with that output on error.
func RunPython(t testing.TB, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(Python(t), args...)
	cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=2", "CUDA_VISIBLE_DEVICES=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	return out
}

// LoopbackAddrs returns n 127.0.0.1 addresses whose ports were free a
// moment ago, for the servers of a test cluster.
func LoopbackAddrs(t testing.TB, n int) []string {
	t.Helper()
	var out []string
	var ls []net.Listener
	for range n {
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

// SavedModelCheck runs scripts/tf_savedmodel_check.py on the SavedModel in
// dir with args (Python TensorFlow's tf.saved_model.load) and decodes the
// JSON object it prints on its last line into report.
func SavedModelCheck(t testing.TB, dir string, report any, args ...string) {
	t.Helper()
	script := filepath.Join(ModuleRoot(t), "scripts", "tf_savedmodel_check.py")
	out := RunPython(t, append([]string{script, dir}, args...)...)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), report); err != nil {
		t.Fatalf("tf_savedmodel_check.py output: %v\n%s", err, out)
	}
}

// Float32File writes x as raw native-endian float32 (what the Python
// scripts read with numpy.fromfile) to a file in a temporary directory and
// returns its path.
func Float32File(t testing.TB, x []float32) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "images.f32")
	if err := os.WriteFile(path, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(x))), len(x)*4), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
