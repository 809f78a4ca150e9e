package main

// Reliability tests of the CLI (issue 8): bad data, bad weights and models,
// disk full during a checkpoint. Light enough for make test; the crash and
// memory tests are behind the stress build tag (make stress).

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/internal/testdata"
	"github.com/tlearn/tlearn/internal/testenv"
	"github.com/tlearn/tlearn/pipeline"
	"github.com/tlearn/tlearn/rundir"
	"github.com/tlearn/tlearn/tfgraph"
)

// writeGrayPNG writes a w×h 8-bit gray PNG: a flat image compresses to
// ~0.1% of its pixels, so a 10,000×10,000 one is a small file.
func writeGrayPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, dst, src string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// badDataset writes 3 classes × 12 good images plus the bad and odd
// files, spread over the classes. It returns the files that must be reported
// (relative path → a word of the expected reason) and the odd ones that must
// be used.
func badDataset(t *testing.T, root string) (bad map[string]string, odd []string) {
	if pipeline.MaxPixels != 10_000*10_000 {
		t.Fatalf("pipeline.MaxPixels is %d: the 10,000×10,000 (used) and 10,000×10,001 (refused) images assume 100 MP", pipeline.MaxPixels)
	}
	testdata.Folders(t, root, 3, 12, 40, 11)
	pd := filepath.Join(testenv.ModuleRoot(t), "pipeline", "testdata")
	a, b, c := filepath.Join(root, "class_a"), filepath.Join(root, "class_b"), filepath.Join(root, "class_c")
	bad = map[string]string{}

	// Truly bad.
	os.WriteFile(filepath.Join(a, "zero.jpg"), nil, 0o644)
	bad["class_a/zero.jpg"] = "empty file"
	good, _ := os.ReadFile(filepath.Join(a, "img-01.jpg"))
	os.WriteFile(filepath.Join(a, "truncated.jpg"), good[:len(good)/3], 0o644)
	bad["class_a/truncated.jpg"] = "jpeg"
	os.WriteFile(filepath.Join(b, "text.jpg"), []byte("this is a text file, renamed .jpg\n"), 0o644)
	bad["class_b/text.jpg"] = "unsupported image format"
	if err := os.Symlink("loop.jpg", filepath.Join(b, "loop.jpg")); err != nil {
		t.Fatal(err)
	}
	bad["class_b/loop.jpg"] = "too many levels of symbolic links"
	// One pixel over pipeline.MaxPixels: refused from its header.
	writeGrayPNG(t, filepath.Join(c, "bomb.png"), 10_000, 10_001)
	bad["class_c/bomb.png"] = "too large"

	// Odd but valid: used.
	copyFile(t, filepath.Join(a, "png-named.jpg"), filepath.Join(a, "img-00.png"))
	odd = append(odd, "class_a/png-named.jpg")
	tiny := image.NewRGBA(image.Rect(0, 0, 1, 1))
	tiny.Set(0, 0, color.RGBA{200, 30, 30, 255})
	testdata.WriteImage(t, filepath.Join(a, "one-pixel.png"), tiny)
	odd = append(odd, "class_a/one-pixel.png")
	// Exactly pipeline.MaxPixels (100 MP): the cap is "more than", so used.
	writeGrayPNG(t, filepath.Join(b, "huge.png"), 10_000, 10_000)
	odd = append(odd, "class_b/huge.png")
	copyFile(t, filepath.Join(b, "cmyk.jpg"), filepath.Join(pd, "img", "cmyk.jpg"))
	odd = append(odd, "class_b/cmyk.jpg")
	copyFile(t, filepath.Join(c, "sixteen-bit.png"), filepath.Join(pd, "img", "rgb16.png"))
	odd = append(odd, "class_c/sixteen-bit.png")
	nonUTF8 := "caf\xe9-latin1.png"
	copyFile(t, filepath.Join(c, nonUTF8), filepath.Join(c, "img-02.png"))
	odd = append(odd, "class_c/"+nonUTF8)

	// No read permission: as root (tests here run as root) chmod 000 does
	// not stop reads, so the image is valid and used; otherwise it is bad.
	noRead := filepath.Join(c, "no-read.jpg")
	copyFile(t, noRead, filepath.Join(c, "img-03.jpg"))
	os.Chmod(noRead, 0)
	if f, err := os.Open(noRead); err == nil {
		f.Close()
		t.Log("running as root: chmod 000 does not block reads, no-read.jpg is a valid image and must be used")
		odd = append(odd, "class_c/no-read.jpg")
	} else {
		bad["class_c/no-read.jpg"] = "permission denied"
	}
	return bad, odd
}

// TestBadData: ≥5% bad files of every kind the issue lists; train and predict
// finish, each bad file is reported once with its reason, odd-but-valid
// images are used, and the counts add up.
func TestBadData(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	bad, odd := badDataset(t, data)
	total := 36 + len(bad) + len(odd)
	if frac := float64(len(bad)) / float64(total); frac < 0.05 {
		t.Fatalf("only %.1f%% bad files", 100*frac)
	}
	t.Logf("%d files: %d bad, %d odd but valid, 36 plain", total, len(bad), len(odd))

	run := filepath.Join(tmp, "run")
	code, out, errOut := tlearn(t, "train", "--data", data, "--out", run, "--arch", "vgg_mini", "--input-size", "32",
		"--margin", "0.05", "--weights", "none", "--batch", "4", "--epochs", "2", "--lr", "0.0005",
		"--eval-every", "1000", "--threads", "2", "--workers", "2", "--seed", "3")
	if code != 0 {
		t.Fatalf("train exit %d\n%s\n%s", code, out, errOut)
	}
	// Counts: every listed file lands in the train or val split.
	cfg, err := rundir.ReadConfig(run)
	if err != nil {
		t.Fatal(err)
	}
	if n := cfg.Train.TrainImages + cfg.Train.ValImages; n != total {
		t.Errorf("train+val = %d+%d files, want all %d listed", cfg.Train.TrainImages, cfg.Train.ValImages, total)
	}
	// Two epochs and a validation: each bad file still reported once.
	lines := readLines(t, filepath.Join(run, rundir.BadFilesFile))
	seen := map[string]bool{}
	for _, l := range lines {
		path, reason, ok := strings.Cut(l, "\t")
		rel, _ := filepath.Rel(data, path)
		want, isBad := bad[rel]
		switch {
		case !ok:
			t.Errorf("bad_files.txt line without a reason: %q", l)
		case seen[rel]:
			t.Errorf("%s reported twice", rel)
		case !isBad:
			t.Errorf("%s reported bad (%s) but is valid", rel, reason)
		case !strings.Contains(reason, want):
			t.Errorf("%s: reason %q, want it to mention %q", rel, reason, want)
		}
		seen[rel] = true
	}
	for rel := range bad {
		if !seen[rel] {
			t.Errorf("%s never reported", rel)
		}
	}
	if want := fmt.Sprintf("%d unreadable images skipped", len(bad)); !strings.Contains(out, want) {
		t.Errorf("train summary %q lacks %q", out, want)
	}

	// predict over the same folder: one line per file, an error line for
	// each bad one, predictions for the rest, exit 3.
	code, out, errOut = tlearn(t, "predict", "--model", run, "--format", "jsonl", "--top-k", "1", "--batch", "8", data)
	if code != exitSomeFailed {
		t.Fatalf("predict exit %d, want %d\n%s", code, exitSomeFailed, errOut)
	}
	answered := map[string]string{} // rel path → error ("" if predicted)
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var p struct {
			Path        string            `json:"path"`
			Error       string            `json:"error"`
			Predictions []json.RawMessage `json:"predictions"`
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		rel, _ := filepath.Rel(data, p.Path)
		// JSON has no bytes for a non-UTF-8 name: encoding/json writes U+FFFD.
		rel = strings.ToValidUTF8(rel, "\uFFFD")
		if _, dup := answered[rel]; dup {
			t.Errorf("%s answered twice", rel)
		}
		if p.Error == "" && len(p.Predictions) != 1 {
			t.Errorf("line without error or prediction: %s", sc.Text())
		}
		answered[rel] = p.Error
	}
	if len(answered) != total {
		t.Errorf("predict answered %d files, want %d", len(answered), total)
	}
	failed := 0
	for rel, e := range answered {
		if e != "" {
			failed++
		}
		if want, isBad := bad[rel]; isBad && !strings.Contains(e, want) {
			t.Errorf("predict %s: error %q, want it to mention %q", rel, e, want)
		} else if !isBad && e != "" {
			t.Errorf("predict %s: unexpected error %q", rel, e)
		}
	}
	for _, rel := range odd {
		if e, ok := answered[strings.ToValidUTF8(rel, "\uFFFD")]; !ok || e != "" {
			t.Errorf("odd but valid %q: answered=%v error=%q", rel, ok, e)
		}
	}
	if failed != len(bad) || !strings.Contains(errOut, fmt.Sprintf("%d of %d inputs could not be read", len(bad), total)) {
		t.Errorf("predict: %d error lines, want %d; stderr: %s", failed, len(bad), errOut)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// miniRun trains a 3-class vgg_mini at size px for 2 steps into dir.
func miniRun(t *testing.T, data, dir string, size int) {
	t.Helper()
	code, out, errOut := tlearn(t, "train", "--data", data, "--out", dir, "--arch", "vgg_mini", "--input-size", fmt.Sprint(size),
		"--margin", "0.05", "--weights", "none", "--batch", "4", "--steps", "2", "--threads", "2", "--workers", "2")
	if code != 0 {
		t.Fatalf("train exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestBadWeightsAndModels: each broken input fails with a clear error naming
// the cause and a non-zero exit, and leaves nothing in the output directory.
func TestBadWeightsAndModels(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	testdata.Folders(t, data, 3, 8, 40, 2)
	good := filepath.Join(tmp, "good")
	miniRun(t, data, good, 32)
	ckpt, err := tfgraph.LatestCheckpoint(good)
	if err != nil {
		t.Fatal(err)
	}

	// A truncated checkpoint: the data file cut to a tenth, the index
	// intact. (Cut in half it still holds every model variable — SaveV2
	// writes them before the momentum slots — so --weights and export,
	// which read no slots, rightly succeed.)
	trunc := filepath.Join(tmp, "trunc", "model.ckpt-2")
	os.MkdirAll(filepath.Dir(trunc), 0o755)
	copyFile(t, trunc+".index", ckpt+".index")
	d, _ := os.ReadFile(ckpt + ".data-00000-of-00001")
	os.WriteFile(trunc+".data-00000-of-00001", d[:len(d)/10], 0o644)
	// A truncated index.
	truncIdx := filepath.Join(tmp, "truncidx", "model.ckpt-2")
	os.MkdirAll(filepath.Dir(truncIdx), 0o755)
	ix, _ := os.ReadFile(ckpt + ".index")
	os.WriteFile(truncIdx+".index", ix[:len(ix)/2], 0o644)
	copyFile(t, truncIdx+".data-00000-of-00001", ckpt+".data-00000-of-00001")
	// Another input size: fc6 has another shape.
	big := filepath.Join(tmp, "big")
	miniRun(t, data, big, 64)
	// A RUN_DIR whose checkpoint lacks the optimizer slots (an inference
	// model's save): resuming needs a variable that is missing.
	noSlots := filepath.Join(tmp, "noslots")
	os.MkdirAll(noSlots, 0o755)
	copyFile(t, filepath.Join(noSlots, rundir.ConfigFile), filepath.Join(good, rundir.ConfigFile))
	cfg := tfgraph.DefaultConfig("vgg_mini", 3)
	cfg.InputSize, cfg.ForInference = 32, true
	inf, err := tfgraph.NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inf.SaveCheckpoint(noSlots); err != nil {
		t.Fatal(err)
	}
	inf.Close()
	// A RUN_DIR without config.json.
	noConfig := filepath.Join(tmp, "noconfig")
	os.MkdirAll(noConfig, 0o755)
	for _, f := range []string{"checkpoint", filepath.Base(ckpt) + ".index", filepath.Base(ckpt) + ".data-00000-of-00001"} {
		copyFile(t, filepath.Join(noConfig, f), filepath.Join(good, f))
	}

	trainArgs := func(out string, extra ...string) []string {
		return append([]string{"train", "--data", data, "--out", out, "--arch", "vgg_mini", "--input-size", "32",
			"--batch", "4", "--steps", "2", "--threads", "2", "--workers", "2"}, extra...)
	}
	tests := []struct {
		name  string
		args  func(out string) []string
		want  []string // substrings of stderr
		fresh bool     // out must not exist afterwards (else: no new files in it)
	}{
		{"truncated checkpoint data", func(o string) []string { return trainArgs(o, "--weights", trunc) },
			[]string{trunc, "vgg_mini/", "truncated or corrupt"}, true},
		{"truncated checkpoint index", func(o string) []string { return trainArgs(o, "--weights", truncIdx) },
			[]string{truncIdx, "not a TensorFlow checkpoint"}, true},
		{"wrong shape", func(o string) []string { return trainArgs(o, "--weights", filepath.Join(big, "model.ckpt-2")) },
			[]string{"vgg_mini/fc6/weights", "wrong shape", "[1,1,64,128]", "[2,2,64,128]"}, true},
		{"run dir trained at another size", func(o string) []string { return trainArgs(o, "--weights", big) },
			[]string{"was trained at --input-size 64, not 32"}, true},
		{"missing variable on resume", func(string) []string { return trainArgs(noSlots, "--weights", "none") },
			[]string{"resume from", "Momentum", "missing"}, false},
		{"run dir without config.json: train resume", func(string) []string { return trainArgs(noConfig, "--weights", "none") },
			[]string{"no config.json"}, false},
		{"run dir without config.json: predict", func(string) []string {
			return []string{"predict", "--model", noConfig, filepath.Join(data, "class_a")}
		}, []string{noConfig, "no config.json"}, false},
		{"run dir without config.json: export", func(o string) []string { return []string{"export", "--model", noConfig, "--out", o} },
			[]string{"no config.json"}, true},
		{"truncated checkpoint in a run dir: export", func(o string) []string {
			rd := filepath.Join(tmp, "truncrun")
			os.MkdirAll(rd, 0o755)
			copyFile(t, filepath.Join(rd, rundir.ConfigFile), filepath.Join(good, rundir.ConfigFile))
			copyFile(t, filepath.Join(rd, "model.ckpt-2.index"), trunc+".index")
			copyFile(t, filepath.Join(rd, "model.ckpt-2.data-00000-of-00001"), trunc+".data-00000-of-00001")
			return []string{"export", "--model", rd, "--out", o}
		}, []string{"model.ckpt-2", "truncated or corrupt"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := tc.args(out)
			before := snapshot(args)
			code, stdout, errOut := tlearn(t, args...)
			t.Logf("exit %d: %s", code, strings.TrimSpace(lastLine(errOut)))
			if code == 0 {
				t.Fatalf("exit 0 for %v", args)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if strings.Contains(errOut, "panic") || strings.Contains(errOut, "goroutine ") {
				t.Errorf("crashed:\n%s", errOut)
			}
			if strings.TrimSpace(stdout) != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
			if tc.fresh {
				if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
					ents, _ := os.ReadDir(out)
					t.Errorf("output directory %s exists after the failure (%d entries)", out, len(ents))
				}
			}
			if diff := snapshot(args); !maps(before, diff) {
				t.Errorf("files changed in the named directories: before %v, after %v", before, diff)
			}
		})
	}
}

// snapshot lists the entries (name and size) of the --out and --model
// directories of args, to show a failed command wrote nothing there.
func snapshot(args []string) map[string]int64 {
	m := map[string]int64{}
	for i, a := range args {
		if (a == "--out" || a == "--model") && i+1 < len(args) {
			ents, _ := os.ReadDir(args[i+1])
			for _, e := range ents {
				info, _ := e.Info()
				if info != nil && e.Name() != rundir.LockFile {
					m[filepath.Join(args[i+1], e.Name())] = info.Size()
				}
			}
		}
	}
	return m
}

func maps(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// TestForeignModels: a SavedModel written by plain TensorFlow (not a tlearn
// export) is refused by predict and eval, and a checkpoint of another
// architecture (vgg_16 names, written by TensorFlow's SaveV2) by train, each
// with the reason.
func TestForeignModels(t *testing.T) {
	py := testenv.Python(t)
	dir := filepath.Join(t.TempDir(), "foreign")
	script := `
import sys, tensorflow as tf
class M(tf.Module):
    def __init__(self):
        self.w = tf.Variable(tf.ones([4, 2]))
    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    def __call__(self, x):
        return {"scores": tf.matmul(x, self.w)}
m = M()
tf.saved_model.save(m, sys.argv[1], signatures={"serving_default": m.__call__})
names = ["vgg_16/conv1/conv1_1/weights", "vgg_16/conv1/conv1_1/biases"]
tf.raw_ops.SaveV2(prefix=sys.argv[2], tensor_names=names, shape_and_slices=["", ""],
                  tensors=[tf.zeros([3, 3, 3, 64]), tf.zeros([64])])
`
	vgg16 := filepath.Join(t.TempDir(), "vgg_16.ckpt")
	cmd := exec.Command(py, "-c", script, dir, vgg16)
	cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=2", "CUDA_VISIBLE_DEVICES=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("write SavedModel: %v\n%s", err, b)
	}
	img := filepath.Join(t.TempDir(), "x.png")
	testdata.Folders(t, filepath.Dir(img), 1, 1, 32, 1)
	before := snapshot([]string{"--model", dir})
	for _, args := range [][]string{
		{"predict", "--model", dir, filepath.Dir(img)},
		{"eval", "--model", dir, "--data", filepath.Dir(img)},
	} {
		code, stdout, errOut := tlearn(t, args...)
		t.Logf("%s: exit %d: %s", args[0], code, lastLine(errOut))
		if code == 0 || !strings.Contains(errOut, dir) || !strings.Contains(errOut, "serving_float") {
			t.Errorf("%v: exit %d, stderr %q; want a failure naming the SavedModel and the missing signature", args, code, errOut)
		}
		if strings.TrimSpace(stdout) != "" {
			t.Errorf("%v printed %q", args, stdout)
		}
	}
	if after := snapshot([]string{"--model", dir}); !maps(before, after) {
		t.Errorf("the SavedModel directory changed")
	}

	data := filepath.Join(t.TempDir(), "data")
	testdata.Folders(t, data, 3, 4, 40, 2)
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, errOut := tlearn(t, "train", "--data", data, "--out", out, "--arch", "vgg_mini", "--input-size", "32",
		"--batch", "4", "--steps", "2", "--weights", vgg16)
	t.Logf("train: exit %d: %s", code, lastLine(errOut))
	for _, w := range []string{vgg16, "vgg_mini/conv1/conv1_1/weights", "missing"} {
		if code == 0 || !strings.Contains(errOut, w) {
			t.Errorf("train --weights <vgg_16 checkpoint>: exit %d, stderr lacks %q:\n%s", code, w, errOut)
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) || stdout != "" {
		t.Errorf("train wrote --out (%v) or stdout %q", err, stdout)
	}
}

// tempFiles lists temp files of interrupted writes in dir.
func tempFiles(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if n := e.Name(); strings.Contains(n, "tempstate") || strings.Contains(n, ".tmp") {
			out = append(out, n)
		}
	}
	return out
}

// TestDiskFullDuringCheckpoint trains into a 4 MiB tmpfs: the first
// checkpoint (2.7 MB) fits, the second does not. The run must stop with an
// error saying the save failed, and the first checkpoint must still restore.
func TestDiskFullDuringCheckpoint(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tlearn-test", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root and mount permission): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	testdata.Folders(t, data, 3, 8, 40, 2)
	run := filepath.Join(mnt, "run")
	code, out, errOut := tlearn(t, "train", "--data", data, "--out", run, "--arch", "vgg_mini", "--input-size", "32",
		"--margin", "0.05", "--weights", "none", "--batch", "4", "--steps", "6", "--save-every-steps", "1",
		"--eval-every", "1000", "--threads", "2", "--workers", "2")
	t.Logf("exit %d: %s", code, lastLine(errOut))
	if code != 1 {
		t.Fatalf("train on a full disk: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	msg := errOut[strings.LastIndex(errOut, "tlearn: "):]
	for _, w := range []string{"save checkpoint at step 2", "No space left on device", "previous checkpoint is intact"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q lacks %q", msg, w)
		}
	}
	if left := tempFiles(run); len(left) > 0 {
		t.Errorf("the failed save left %v", left)
	}
	ckpt, err := tfgraph.LatestCheckpoint(run)
	if err != nil || !strings.HasSuffix(ckpt, "model.ckpt-1") {
		t.Fatalf("latest checkpoint %q, %v; want model.ckpt-1", ckpt, err)
	}
	cfg := tfgraph.DefaultConfig("vgg_mini", 3)
	cfg.InputSize = 32
	m, err := tfgraph.NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.RestoreCheckpoint(ckpt); err != nil {
		t.Fatalf("previous checkpoint does not restore: %v", err)
	}
	if step, _ := m.GlobalStep(); step != 1 {
		t.Errorf("restored step %d, want 1", step)
	}
	ents, _ := os.ReadDir(run)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	t.Logf("RUN_DIR after the failure: %v", names)
}
