package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rivo/uniseg"

	"github.com/tlearn/tlearn/internal/testdata"
	"github.com/tlearn/tlearn/tfgraph"
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
			"--margin", "0.05", "--weights", "none", "--batch", "4", "--steps", "2", "--threads", "2", "--workers", "2")
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

// trainMini trains a fresh 3-class vgg_mini at 32 px into a new RUN_DIR with extra flags.
func trainMini(t *testing.T, extra ...string) (run, stdout, stderr string) {
	t.Helper()
	data, _ := sharedRun(t)
	run = filepath.Join(t.TempDir(), "run")
	args := append([]string{"train", "--data", data, "--out", run, "--arch", "vgg_mini", "--input-size", "32",
		"--margin", "0.05", "--weights", "none", "--batch", "4", "--threads", "2", "--workers", "2"}, extra...)
	code, out, errOut := tlearn(t, args...)
	if code != 0 {
		t.Fatalf("train exit %d\n%s\n%s", code, out, errOut)
	}
	return run, out, errOut
}

// TestKeepCheckpoints: --keep-checkpoints 2 with a checkpoint every step
// leaves exactly the two newest in RUN_DIR.
func TestKeepCheckpoints(t *testing.T) {
	run, _, _ := trainMini(t, "--steps", "5", "--save-every-steps", "1", "--keep-checkpoints", "2", "--eval-every", "1000")
	idx, _ := filepath.Glob(filepath.Join(run, "model.ckpt-*.index"))
	for i := range idx {
		idx[i] = filepath.Base(idx[i])
	}
	if strings.Join(idx, " ") != "model.ckpt-4.index model.ckpt-5.index" {
		t.Errorf("RUN_DIR keeps %v, want model.ckpt-4 and -5", idx)
	}
}

// TestBestLinksLatest: when the best checkpoint is also the latest, best/
// holds hard links to the same files, not a second copy.
func TestBestLinksLatest(t *testing.T) {
	run, _, _ := trainMini(t, "--steps", "3", "--eval-every", "1000")
	data, _ := filepath.Glob(filepath.Join(run, "model.ckpt-3.data-*"))
	if len(data) == 0 {
		t.Fatalf("no latest checkpoint model.ckpt-3 in %s", run)
	}
	for _, f := range append(data, filepath.Join(run, "model.ckpt-3.index")) {
		a, err1 := os.Stat(f)
		b, err2 := os.Stat(filepath.Join(run, "best", filepath.Base(f)))
		if err1 != nil || err2 != nil {
			t.Fatalf("stat: %v %v", err1, err2)
		}
		if !os.SameFile(a, b) {
			t.Errorf("best/%s is a copy of %s, want a hard link", filepath.Base(f), f)
		}
	}
	// best/ still resolves as a checkpoint on its own.
	imgs, _ := sharedRun(t)
	if code, _, errOut := tlearn(t, "predict", "--model", run, "--checkpoint", "best", "--format", "jsonl", imgs); code != 0 {
		t.Errorf("predict from best/: exit %d: %s", code, errOut)
	}
}

// skipIfGPU skips tests of the no-GPU behaviour on a machine with a GPU.
func skipIfGPU(t *testing.T) {
	t.Helper()
	devs, err := tfgraph.ListDevices()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.Type == "GPU" {
			t.Skip("this machine has a GPU")
		}
	}
}

// TestTrainNoGPURefused: --device gpu:0 without a GPU is a usage error in
// one line, and leaves no RUN_DIR.
func TestTrainNoGPURefused(t *testing.T) {
	skipIfGPU(t)
	data, _ := sharedRun(t)
	run := filepath.Join(t.TempDir(), "run")
	code, out, errOut := tlearn(t, "train", "--data", data, "--out", run, "--arch", "vgg_mini", "--input-size", "32",
		"--weights", "none", "--batch", "4", "--steps", "1", "--device", "gpu:0")
	if code != exitUsage || !strings.Contains(errOut, "no GPU") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("exit %d, want 2 with one line saying there is no GPU\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if _, err := os.Stat(run); err == nil {
		t.Errorf("a refused run left %s", run)
	}
}

// TestPredictNoGPU: predict --device gpu:0 without a GPU is refused (exit 2)
// unless --soft-placement asks for the CPU fallback.
func TestPredictNoGPU(t *testing.T) {
	skipIfGPU(t)
	data, run := sharedRun(t)
	code, _, errOut := tlearn(t, "predict", "--model", run, "--device", "gpu:0", "--format", "jsonl", data)
	if code != exitUsage || !strings.Contains(errOut, "no GPU") {
		t.Errorf("without --soft-placement: exit %d, want 2 saying there is no GPU: %s", code, errOut)
	}
	code, out, errOut := tlearn(t, "predict", "--model", run, "--device", "gpu:0", "--soft-placement", "--format", "jsonl", data)
	if code != 0 || strings.Count(out, "\n") != 18 {
		t.Errorf("with --soft-placement: exit %d, %d lines, want 0 and 18\n%s", code, strings.Count(out, "\n"), errOut)
	}
}

// TestPredictFilesFromStdin: --files-from - reads paths from stdin and
// answers each in input order, a missing and a broken file as error lines in
// their places.
func TestPredictFilesFromStdin(t *testing.T) {
	data, run := sharedRun(t)
	imgs, _ := filepath.Glob(filepath.Join(data, "*", "*"))
	if len(imgs) < 3 {
		t.Fatalf("fixture has %d images", len(imgs))
	}
	tmp := t.TempDir()
	broken := filepath.Join(tmp, "broken.jpg")
	os.WriteFile(broken, []byte("nope"), 0o644)
	list := []string{imgs[2], filepath.Join(tmp, "missing.png"), imgs[0], broken, imgs[1]}
	var stdout, stderr bytes.Buffer
	code := runIO(context.Background(), []string{"tlearn", "predict", "--model", run, "--format", "jsonl", "--batch", "2", "--files-from", "-"},
		strings.NewReader(strings.Join(list, "\n")+"\n\n"), &stdout, &stderr)
	if code != exitSomeFailed {
		t.Fatalf("exit %d, want 3 (two inputs failed)\n%s", code, stderr.String())
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var p struct {
			Path  string `json:"path"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if (p.Error != "") != (p.Path == list[1] || p.Path == list[3]) {
			t.Errorf("line %s: error only for the missing and the broken file", line)
		}
		got = append(got, p.Path)
	}
	if strings.Join(got, "\n") != strings.Join(list, "\n") {
		t.Errorf("answers in order\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(list, "\n"))
	}
}

// wideLabels are class names with spaces, '&', East Asian wide characters and emoji.
var wideLabels = []string{"ice cream & sundae", "寿司と刺身", "😀 smileys & emotion"}

// wideRun trains a tiny run whose classes are wideLabels, in a data folder
// that is relative to the (changed) working directory, so paths stay short.
func wideRun(t *testing.T) (data, run string) {
	t.Helper()
	tmp := t.TempDir()
	t.Chdir(tmp)
	names := testdata.Folders(t, "data", 3, 4, 36, 5)
	for i, n := range names {
		if err := os.Rename(filepath.Join("data", n), filepath.Join("data", wideLabels[i])); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := tlearn(t, "train", "--data", "data", "--out", "run", "--arch", "vgg_mini", "--input-size", "32",
		"--margin", "0.05", "--weights", "none", "--batch", "4", "--steps", "1", "--val-split", "0.25", "--threads", "2", "--workers", "2")
	if code != 0 {
		t.Fatalf("train exit %d\n%s\n%s", code, out, errOut)
	}
	return "data", "run"
}

// endColumn is the terminal column where the first match of re ends in line.
func endColumn(line string, re *regexp.Regexp) int {
	loc := re.FindStringIndex(line)
	if loc == nil {
		return -1
	}
	return uniseg.StringWidth(line[:loc[1]])
}

// TestPredictTableWideLabels: with long, spaced and double-width labels the
// probability column stays aligned (by terminal columns), and NEXT lists
// "label (p)" entries that parse back into the model's labels.
func TestPredictTableWideLabels(t *testing.T) {
	data, run := wideRun(t)
	code, out, errOut := tlearn(t, "predict", "--model", run, "--format", "table", "--top-k", "3", data)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := endColumn(lines[0], regexp.MustCompile(`PROB`))
	prob := regexp.MustCompile(`\b[01]\.\d{3}\b`)
	entry := regexp.MustCompile(`^(.+) \([01]\.\d{3}\)$`)
	for _, l := range lines[1:] {
		if got := endColumn(l, prob); got != want {
			t.Errorf("PROB ends at column %d, header at %d:\n%s\n%s", got, want, lines[0], l)
		}
		loc := prob.FindStringIndex(l)
		if loc == nil {
			continue
		}
		next := strings.Split(strings.TrimSpace(l[loc[1]:]), ", ")
		if len(next) != 2 {
			t.Errorf("NEXT has %d entries, want 2: %q", len(next), l)
		}
		for _, e := range next {
			m := entry.FindStringSubmatch(e)
			if m == nil || !slices.Contains(wideLabels, m[1]) {
				t.Errorf("NEXT entry %q is not \"label (p)\" with a model label", e)
			}
		}
	}
}

// TestEvalTableWideLabels: the per-class table's columns line up by terminal
// columns when class names have double-width characters.
func TestEvalTableWideLabels(t *testing.T) {
	data, run := wideRun(t)
	code, out, errOut := tlearn(t, "eval", "--model", run, "--data", data, "--format", "table")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	table := out[strings.Index(out, "CLASS"):]
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("want a header and 3 classes:\n%s", table)
	}
	want := endColumn(lines[0], regexp.MustCompile(`RECALL`))
	for _, l := range lines[1:] {
		if got := endColumn(l, regexp.MustCompile(`\d\.\d{3}$`)); got != want {
			t.Errorf("RECALL ends at column %d, header at %d:\n%s", got, want, table)
		}
	}
}

// TestJPEGScaleFlag: --jpeg-scale takes auto or full, and full is refused
// with --signature bytes (the SavedModel decodes then), before any model is
// opened.
func TestJPEGScaleFlag(t *testing.T) {
	for _, args := range [][]string{
		{"predict", "--model", "nowhere", "--jpeg-scale", "half", "x.jpg"},
		{"eval", "--model", "nowhere", "--jpeg-scale", "half", "--data", "d"},
		{"train", "--data", "d", "--out", "o", "--weights", "none", "--jpeg-scale", "half"},
		{"eval", "--model", "nowhere", "--jpeg-scale", "full", "--signature", "bytes", "--data", "d"},
	} {
		code, _, errOut := tlearn(t, args...)
		if code != exitUsage || !strings.Contains(errOut, "--jpeg-scale") {
			t.Errorf("%v: exit %d, %q; want a usage error naming --jpeg-scale", args, code, errOut)
		}
	}
}
