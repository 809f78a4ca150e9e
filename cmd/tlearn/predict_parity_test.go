package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlearn/tlearn/internal/testdata"
	"github.com/tlearn/tlearn/internal/testenv"
)

// TestPredictWithPretrainedCheckpointMatchesTensorFlow: `tlearn predict --arch
// --weights --labels` on a TF-Slim V1 checkpoint written by real TensorFlow
// gives TensorFlow's own probabilities for images already at the input size.
func TestPredictWithPretrainedCheckpointMatchesTensorFlow(t *testing.T) {
	tmp := t.TempDir()
	imgs := filepath.Join(tmp, "imgs")
	os.MkdirAll(imgs, 0o755)
	rng := rand.New(rand.NewSource(11))
	const size = 64
	for i := 0; i < 3; i++ {
		img := image.NewRGBA(image.Rect(0, 0, size, size))
		for p := 0; p < size*size; p++ {
			img.Set(p%size, p/size, color.RGBA{uint8(rng.Intn(256)), uint8(rng.Intn(256)), uint8(rng.Intn(256)), 255})
		}
		testdata.WriteImage(t, filepath.Join(imgs, fmt.Sprintf("img%d.png", i)), img)
	}
	ref := filepath.Join(tmp, "ref")
	script := filepath.Join(testenv.ModuleRoot(t), "scripts", "tf_reference.py")
	testenv.RunPython(t, script, "--out", ref, "--arch", "vgg_mini", "--input-size", fmt.Sprint(size), "--classes", "5",
		"--batch", "1", "--steps", "0", "--formats", "v1", "--predict-images", imgs)
	labels := filepath.Join(tmp, "labels.txt")
	os.WriteFile(labels, []byte("zero\none\ntwo\nthree\nfour\n"), 0o644)

	code, out, errOut := tlearn(t, "predict", "--arch", "vgg_mini", "--weights", filepath.Join(ref, "ckpt_v1"),
		"--labels", labels, "--input-size", fmt.Sprint(size), "--top-k", "5", "--format", "jsonl", imgs)
	if code != 0 {
		t.Fatalf("predict exit %d: %s", code, errOut)
	}
	var want map[string][]float64
	b, err := os.ReadFile(filepath.Join(ref, "predict.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &want)
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for sc.Scan() {
		var p struct {
			Path        string
			Predictions []struct {
				Label       string
				Index       int
				Probability float64
			}
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		w := want[filepath.Base(p.Path)]
		if len(w) != 5 || len(p.Predictions) != 5 {
			t.Fatalf("%s: %d predictions, reference %v", p.Path, len(p.Predictions), w)
		}
		for _, c := range p.Predictions {
			if d := math.Abs(c.Probability - w[c.Index]); d > 1e-5+1e-4*w[c.Index] {
				t.Errorf("%s class %d (%s): tlearn %.7f, TensorFlow %.7f", p.Path, c.Index, c.Label, c.Probability, w[c.Index])
			}
		}
		n++
	}
	if n != 3 {
		t.Fatalf("%d predictions, want 3", n)
	}
}
