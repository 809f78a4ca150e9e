package main

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/internal/testenv"
)

// predictions parses predict's jsonl: path → (probabilities by class index, error).
func predictions(t *testing.T, out string) map[string]struct {
	probs map[int]float64
	top   int
	err   string
} {
	t.Helper()
	res := map[string]struct {
		probs map[int]float64
		top   int
		err   string
	}{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var p struct {
			Path        string
			Error       string
			Predictions []struct {
				Index       int
				Probability float64
			}
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		r := res[filepath.Base(p.Path)]
		r.probs, r.err, r.top = map[int]float64{}, p.Error, -1
		for i, c := range p.Predictions {
			r.probs[c.Index] = c.Probability
			if i == 0 {
				r.top = c.Index
			}
		}
		res[filepath.Base(p.Path)] = r
	}
	return res
}

// place copies src to dst, creating dst's folder.
func place(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, dst, src)
}

// TestSignatureBytesCLI: `predict/eval --model EXPORT --signature bytes` run
// the SavedModel's serving_default on the files' bytes (no Go decoding) and,
// on transparent, 16-bit, palette and EXIF-rotated images, agree with the
// Go pipeline (--signature float) to 1e-4; what the serving graph refuses
// (WebP) gets an error line and exit 3 while transparent GIFs and 32-bit
// BMPs are answered; --signature bytes
// with a RUN_DIR is a usage error.
func TestSignatureBytesCLI(t *testing.T) {
	tmp := t.TempDir()
	td := filepath.Join(testenv.ModuleRoot(t), "pipeline", "testdata")
	data := filepath.Join(tmp, "data")
	for class, files := range map[string][]string{
		"plain": {"kinds/rgba_ramp.png", "kinds/grey_alpha.png", "kinds/rgba16.png", "img/palette_trns.png"},
		"glyph": {"img/rgba.png", "kinds/rgb_trns.png", "kinds/exif_le6.jpg", "exif/orient6.jpg"},
	} {
		for _, f := range files {
			place(t, filepath.Join(td, f), filepath.Join(data, class, filepath.Base(f)))
		}
	}
	run := filepath.Join(tmp, "run")
	if code, _, errOut := tlearn(t, "train", "--data", data, "--out", run, "--arch", "vgg_mini", "--input-size", "32",
		"--weights", "none", "--steps", "3", "--batch", "4", "--threads", "2", "--workers", "2"); code != 0 {
		t.Fatalf("train: exit %d: %s", code, errOut)
	}
	exp := filepath.Join(tmp, "export")
	if code, _, errOut := tlearn(t, "export", "--model", run, "--out", exp); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	code, fl, errOut := tlearn(t, "predict", "--model", exp, "--format", "jsonl", "--top-k", "2", data)
	if code != 0 {
		t.Fatalf("predict --signature float: exit %d: %s", code, errOut)
	}
	code, by, errOut := tlearn(t, "predict", "--model", exp, "--signature", "bytes", "--format", "jsonl", "--top-k", "2", "--batch", "3", data)
	if code != 0 {
		t.Fatalf("predict --signature bytes: exit %d: %s", code, errOut)
	}
	pf, pb := predictions(t, fl), predictions(t, by)
	if len(pf) != 8 || len(pb) != 8 {
		t.Fatalf("%d and %d answers, want 8:\n%s\n%s", len(pf), len(pb), fl, by)
	}
	for name, f := range pf {
		b := pb[name]
		if b.err != "" || b.top != f.top {
			t.Errorf("%s: bytes signature top-1 %d (error %q), Go pipeline %d", name, b.top, b.err, f.top)
		}
		for i, p := range f.probs {
			if d := math.Abs(p - b.probs[i]); d > 1e-4 {
				t.Errorf("%s class %d: bytes signature %.6f, Go pipeline %.6f", name, i, b.probs[i], p)
			}
		}
	}

	var ef, eb struct{ Top1, Top5 float64 }
	for sig, dst := range map[string]*struct{ Top1, Top5 float64 }{"float": &ef, "bytes": &eb} {
		code, out, errOut := tlearn(t, "eval", "--model", exp, "--signature", sig, "--data", data, "--format", "json")
		if code != 0 {
			t.Fatalf("eval --signature %s: exit %d: %s", sig, code, errOut)
		}
		if err := json.Unmarshal([]byte(out), dst); err != nil {
			t.Fatalf("eval --signature %s: %v: %s", sig, err, out)
		}
	}
	if ef != eb {
		t.Errorf("eval: --signature bytes %+v, --signature float %+v", eb, ef)
	}

	// Files the serving graph cannot decode as tlearn does: one error line
	// each, the others answered, exit 3.
	mixed := filepath.Join(tmp, "mixed")
	for _, f := range []string{"img/lossless.webp", "kinds/trns.gif", "kinds/trns_black.gif", "kinds/rgba32.bmp"} {
		place(t, filepath.Join(td, f), filepath.Join(mixed, filepath.Base(f)))
	}
	code, out, _ := tlearn(t, "predict", "--model", exp, "--signature", "bytes", "--format", "jsonl", mixed)
	pm := predictions(t, out)
	t.Logf("predict --signature bytes on refused kinds:\n%s", out)
	if code != exitSomeFailed || len(pm) != 4 {
		t.Errorf("predict --signature bytes on refused kinds: exit %d, %d answers, want %d and 4:\n%s", code, len(pm), exitSomeFailed, out)
	}
	for name, want := range map[string]string{"lossless.webp": "Unknown image file format", "trns.gif": "", "trns_black.gif": "", "rgba32.bmp": ""} {
		if got := pm[name].err; (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%s: error %q, want one containing %q", name, got, want)
		}
	}

	_, outF, _ := tlearn(t, "predict", "--model", exp, "--format", "jsonl", mixed)
	for name, f := range predictions(t, outF) {
		if b := pm[name]; name != "lossless.webp" && (b.top != f.top || math.Abs(b.probs[f.top]-f.probs[f.top]) > 1e-4) {
			t.Errorf("%s: bytes signature top-1 %d (p %.6f, error %q), Go pipeline %d (p %.6f)", name, b.top, b.probs[f.top], b.err, f.top, f.probs[f.top])
		}
	}

	if code, _, errOut := tlearn(t, "predict", "--model", run, "--signature", "bytes", data); code != 2 || !strings.Contains(errOut, "EXPORT_DIR") {
		t.Errorf("--signature bytes with a RUN_DIR: exit %d, %q; want 2 and a message naming EXPORT_DIR", code, errOut)
	}
	if code, _, errOut := tlearn(t, "predict", "--model", exp, "--signature", "pixels", data); code != 2 {
		t.Errorf("--signature pixels: exit %d, %q; want 2", code, errOut)
	}
}
