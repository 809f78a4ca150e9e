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

// TestDockerfileDefaultsMatchVersionsEnv checks that every base image the Dockerfile
// builds FROM is a build argument whose default is the one versions.env pins (the
// Makefile passes versions.env's values; a user running plain `docker build` gets the
// defaults, and the two must not drift), and that the pins agree with each other.
func TestDockerfileDefaultsMatchVersionsEnv(t *testing.T) {
	root := testenv.ModuleRoot(t)
	env := readEnv(t, filepath.Join(root, "third_party", "libtensorflow", "versions.env"))
	docker, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^ARG (\w+)=(\S+)$`).FindAllSubmatch(docker, -1) {
		args[string(m[1])] = string(m[2])
	}
	// Base images: FROM ${ARG}, as opposed to FROM stage-${VARIANT} (a stage of this file).
	var bases []string
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^FROM \$\{(\w+)\}`).FindAllSubmatch(docker, -1) {
		if b := string(m[1]); !seen[b] {
			seen[b] = true
			bases = append(bases, b)
		}
	}
	if len(bases) < 3 {
		t.Fatalf("Dockerfile builds FROM %v: want GO_IMAGE, DEBIAN_IMAGE and TF_GPU_IMAGE at least", bases)
	}
	for _, key := range append(bases, "VARIANT") {
		def, ok := args[key]
		if !ok {
			t.Errorf("Dockerfile has no `ARG %s=` default", key)
			continue
		}
		if key == "VARIANT" {
			if def != "gpu" && def != "cpu" {
				t.Errorf("Dockerfile ARG VARIANT=%s: gpu or cpu", def)
			}
			continue
		}
		if def != env[key] {
			t.Errorf("Dockerfile ARG %s=%s, versions.env says %q", key, def, env[key])
		}
	}
	if regexp.MustCompile(`(?m)^# *syntax=`).Match(docker) {
		t.Errorf("Dockerfile names a `# syntax=` frontend image: the build would need Docker Hub even with local bases")
	}
	if !strings.HasPrefix(env["TF_VERSION"], "2.18.") || !strings.Contains(env["TF_GPU_IMAGE"], ":2.18.") {
		t.Errorf("TF_VERSION %s / TF_GPU_IMAGE %s: graft v0.10.0 needs TensorFlow 2.18", env["TF_VERSION"], env["TF_GPU_IMAGE"])
	}
	if !strings.Contains(env["TF_WHEEL_FILE"], env["TF_VERSION"]) || len(env["TF_WHEEL_SHA256"]) != 64 {
		t.Errorf("wheel pin inconsistent: %s / sha256 %q", env["TF_WHEEL_FILE"], env["TF_WHEEL_SHA256"])
	}
	// The local Go base (GO_TOOLCHAIN) is a release of GO_IMAGE's line: golang:1.26-bookworm ↔ go1.26.N.
	goLine := regexp.MustCompile(`^golang:(\d+\.\d+)(\.\d+)?-bookworm$`).FindStringSubmatch(env["GO_IMAGE"])
	if goLine == nil || !strings.HasPrefix(env["GO_TOOLCHAIN"], "go"+goLine[1]+".") {
		t.Errorf("GO_TOOLCHAIN=%s is not a release of GO_IMAGE=%s (a bookworm golang image)", env["GO_TOOLCHAIN"], env["GO_IMAGE"])
	}
	if !strings.Contains(env["DEBIAN_IMAGE"], "bookworm") {
		t.Errorf("DEBIAN_IMAGE=%s: the CPU runtime must be the Debian release GO_IMAGE builds on (bookworm)", env["DEBIAN_IMAGE"])
	}
}

// TestVersionsEnvValuesHaveNoSpaces: versions.env is read by make (include), bash
// (source) and the Dockerfile's scripts; a value with a space is a command to bash.
func TestVersionsEnvValuesHaveNoSpaces(t *testing.T) {
	root := testenv.ModuleRoot(t)
	for k, v := range readEnv(t, filepath.Join(root, "third_party", "libtensorflow", "versions.env")) {
		if v == "" || strings.ContainsAny(v, " \t\"'$`") {
			t.Errorf("versions.env %s=%q: a value must be one word without quotes or $", k, v)
		}
	}
}
