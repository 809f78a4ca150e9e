package buildcheck

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/internal/testenv"
)

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kv := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not KEY=VALUE", path, line)
		}
		kv[k] = v
	}
	return kv
}

func TestDockerfileDefaultsMatchVersionsEnv(t *testing.T) {
	root := testenv.ModuleRoot(t)
	env := readEnv(t, filepath.Join(root, "third_party", "libtensorflow", "versions.env"))
	docker, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"TF_GPU_IMAGE", "GO_IMAGE"} {
		re := regexp.MustCompile(`(?m)^ARG ` + key + `=(\S+)$`)
		m := re.FindSubmatch(docker)
		if m == nil {
			t.Errorf("Dockerfile has no `ARG %s=` default", key)
			continue
		}
		if string(m[1]) != env[key] {
			t.Errorf("Dockerfile ARG %s=%s, versions.env says %s", key, m[1], env[key])
		}
	}
	if !strings.HasPrefix(env["TF_VERSION"], "2.18.") || !strings.Contains(env["TF_GPU_IMAGE"], ":2.18.") {
		t.Errorf("TF_VERSION %s / TF_GPU_IMAGE %s: graft v0.10.0 needs TensorFlow 2.18", env["TF_VERSION"], env["TF_GPU_IMAGE"])
	}
	if !strings.Contains(env["TF_WHEEL_FILE"], env["TF_VERSION"]) || len(env["TF_WHEEL_SHA256"]) != 64 {
		t.Errorf("wheel pin inconsistent: %s / sha256 %q", env["TF_WHEEL_FILE"], env["TF_WHEEL_SHA256"])
	}
}
