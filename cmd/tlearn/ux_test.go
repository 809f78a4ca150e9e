package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tlearn/tlearn/internal/testdata"
)

// fixture is one tiny trained RUN_DIR (3-class vgg_mini at 32 px, 2 steps)
// shared by the tests that only read it, so each does not train its own.
var fixture struct {
	once     sync.Once
	dir      string // temp root, removed by TestMain
	data     string
	run      string
	trainErr string
}

// sharedRun returns the fixture's data folder and RUN_DIR, training it on first use.
func sharedRun(t *testing.T) (data, run string) {
	t.Helper()
	fixture.once.Do(func() {
		dir, err := os.MkdirTemp("", "tlearn-fixture-")
		if err != nil {
			fixture.trainErr = err.Error()
			return
		}
		fixture.dir = dir
		fixture.data = filepath.Join(dir, "data")
		fixture.run = filepath.Join(dir, "run")
		testdata.Folders(t, fixture.data, 3, 6, 36, 3)
		code, out, errOut := tlearn(t, "train", "--data", fixture.data, "--out", fixture.run, "--arch", "vgg_mini", "--input-size", "32",
			"--margin", "2", "--weights", "none", "--batch", "4", "--steps", "2", "--threads", "2", "--workers", "2")
		if code != 0 {
			fixture.trainErr = fmt.Sprintf("train exit %d\n%s\n%s", code, out, errOut)
		}
	})
	if fixture.trainErr != "" {
		t.Fatal(fixture.trainErr)
	}
	return fixture.data, fixture.run
}

// TestInfoShowsRAM: the CPU line shows the machine's memory (MemTotal), not
// TensorFlow's CPU allocator limit.
func TestInfoShowsRAM(t *testing.T) {
	want := systemMemoryForTest(t)
	code, out, errOut := tlearn(t, "info")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if s := fmt.Sprintf("(%.1f GiB RAM)", float64(want)/(1<<30)); !strings.Contains(out, s) {
		t.Errorf("info does not show the machine's %s:\n%s", s, out)
	}
}

func systemMemoryForTest(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Skip("no /proc/meminfo")
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]) // "MemTotal: N kB"
	kb, err := strconv.ParseInt(f[1], 10, 64)
	if f[0] != "MemTotal:" || err != nil {
		t.Fatalf("unexpected /proc/meminfo: %q", f)
	}
	return kb << 10
}

// TestPredictOnlyUnreadableNoRate: predicting a single broken file says so,
// exits 3, and prints no images/s rate (there was nothing to time).
func TestPredictOnlyUnreadableNoRate(t *testing.T) {
	_, run := sharedRun(t)
	bad := filepath.Join(t.TempDir(), "broken.jpg")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	code, out, errOut := tlearn(t, "predict", "--model", run, "--format", "jsonl", bad)
	if code != exitSomeFailed {
		t.Fatalf("exit %d, want 3\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(errOut, "images/s") {
		t.Errorf("a rate for 0 classified images:\n%s", errOut)
	}
	if !strings.Contains(errOut, "predicted 0 images (1 unreadable)") {
		t.Errorf("no summary line:\n%s", errOut)
	}
}
