// Package testdata generates small labelled image folders for tests: each
// class is a colour family with noise and a random bright square, so a small
// network can learn it in a few steps, and the files are real PNG/JPEG images
// that go through the whole decoding path.
package testdata

import (
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
)

// ClassColors are the base colours of generated classes, in class order.
var ClassColors = []color.RGBA{
	{220, 40, 40, 255}, {40, 200, 60, 255}, {50, 70, 220, 255}, {230, 210, 40, 255}, {200, 60, 210, 255},
}

// Folders writes root/<class>/img-NN.{png,jpg} for nClasses classes with
// perClass images each (sizes vary around size×size), and returns the class names.
func Folders(t testing.TB, root string, nClasses, perClass, size int, seed int64) []string {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	names := make([]string, nClasses)
	for c := 0; c < nClasses; c++ {
		names[c] = fmt.Sprintf("class_%c", 'a'+c)
		dir := filepath.Join(root, names[c])
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < perClass; i++ {
			w, h := size+rng.Intn(size/2+1), size+rng.Intn(size/2+1)
			img := Image(rng, ClassColors[c%len(ClassColors)], w, h)
			ext := ".png"
			if i%2 == 1 {
				ext = ".jpg"
			}
			WriteImage(t, filepath.Join(dir, fmt.Sprintf("img-%02d%s", i, ext)), img)
		}
	}
	return names
}

// Image returns a w×h image of base colour with noise and a bright square.
func Image(rng *rand.Rand, base color.RGBA, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := func(v uint8) uint8 {
				x := int(v) + rng.Intn(61) - 30
				return uint8(max(0, min(255, x)))
			}
			img.SetRGBA(x, y, color.RGBA{n(base.R), n(base.G), n(base.B), 255})
		}
	}
	s := max(2, min(w, h)/4)
	x0, y0 := rng.Intn(w-s+1), rng.Intn(h-s+1)
	for y := y0; y < y0+s; y++ {
		for x := x0; x < x0+s; x++ {
			img.SetRGBA(x, y, color.RGBA{255, 255, 255, 255})
		}
	}
	return img
}

// WriteImage encodes img as PNG or JPEG (quality 90) by the file extension.
func WriteImage(t testing.TB, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	switch filepath.Ext(path) {
	case ".jpg", ".jpeg":
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 90})
	default:
		err = png.Encode(f, img)
	}
	if err != nil {
		t.Fatal(err)
	}
}
