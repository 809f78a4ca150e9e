package rundir

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestConfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	c := &Config{Arch: "vgg_mini", InputSize: 48, Classes: []string{"a", "b"}}
	c.Train.Epochs = 3
	if err := WriteConfig(dir, c); err != nil {
		t.Fatal(err)
	}
	got, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Arch != "vgg_mini" || got.Format != 2 || got.Train.Epochs != 3 || len(got.Classes) != 2 {
		t.Fatalf("round trip: %+v", got)
	}
}

// TestConfigNorm: the recorded normalisation round-trips, and a config.json
// from before it was recorded (VGG only) reads as mean_subtract.
func TestConfigNorm(t *testing.T) {
	dir := t.TempDir()
	c := &Config{Arch: "mobilenet_v2", InputSize: 32, Classes: []string{"a"}}
	c.Preprocess.Norm = "plus_minus_one"
	if err := WriteConfig(dir, c); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadConfig(dir); err != nil || got.Preprocess.Norm != "plus_minus_one" {
		t.Fatalf("round trip: norm %q, %v", got.Preprocess.Norm, err)
	}
	old := `{"format":2,"arch":"vgg_16","input_size":224,"classes":["a"],"preprocess":{"style":"crop","means":[123.68,116.78,103.94]}}`
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := got.ImageNorm(); err != nil || n.Name != "mean_subtract" || n.Scale != 1 {
		t.Fatalf("old config.json: norm %+v, %v; want mean_subtract", n, err)
	}
}

func TestReadConfigErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"missing", "", "not a tlearn run directory"},
		{"garbage", "{", "parse"},
		{"no arch", `{"input_size":224,"classes":["a"]}`, "no arch"},
		{"no classes", `{"arch":"vgg_19","input_size":224}`, "empty class list"},
		{"unknown norm", `{"arch":"vgg_19","input_size":224,"classes":["a"],"preprocess":{"norm":"zscore"}}`, `unknown preprocess norm "zscore"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.content != "" {
				os.WriteFile(filepath.Join(dir, ConfigFile), []byte(tt.content), 0o644)
			}
			_, err := ReadConfig(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestLockIsExclusiveAndReleasedOnExit(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Acquire: err = %v, want ErrLocked", err)
	} else if !strings.Contains(err.Error(), "pid") {
		t.Errorf("message does not say who holds it: %v", err)
	}
	l.Release()
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	l2.Release()

	// A process killed (kill -9) while holding the lock does not leave it
	// stuck: the flock dies with the process. The holder is this test binary,
	// re-run as a helper that takes the lock and waits.
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), "TLEARN_LOCK_HELPER="+dir)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "locked" {
		t.Fatalf("helper did not lock: %q %v", buf, err)
	}
	if _, err := Acquire(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("while the helper holds it: err = %v, want ErrLocked", err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	l4, err := Acquire(dir)
	if err != nil {
		t.Fatalf("lock stuck after its holder was killed: %v", err)
	}
	l4.Release()
}

func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv("TLEARN_LOCK_HELPER")
	if dir == "" {
		t.Skip("helper process for TestLockIsExclusiveAndReleasedOnExit")
	}
	if _, err := Acquire(dir); err != nil {
		os.Exit(1)
	}
	os.Stdout.WriteString("locked")
	time.Sleep(time.Minute)
}
