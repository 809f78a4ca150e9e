//go:build cgo && libjpeg

package pipeline

import (
	"bytes"
	"context"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestJPEGScaledDecodeVsTensorFlow: libjpeg-turbo's DCT-scaled decode (1/2,
// 1/4, 1/8) is bit-identical to TF's decode_jpeg(ratio=…) — libjpeg-turbo
// too, same IDCT and upsampling settings — on 4:2:0 (even and odd sizes),
// 4:2:2 and 4:4:4 JPEGs.
func TestJPEGScaledDecodeVsTensorFlow(t *testing.T) {
	for _, name := range []string{"golden/photo", "golden/photo_odd420", "golden/photo_odd422", "img/q444"} {
		data, err := os.ReadFile(filepath.Join("testdata", name+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []int{2, 4, 8} {
			want, err := os.ReadFile(filepath.Join("testdata", "golden", filepath.Base(name)+"_tfdecode_r"+string(rune('0'+r))+".rgb"))
			if err != nil {
				t.Fatal(err)
			}
			img, off, ok, err := libjpegDecode(data, nil, r, image.Rectangle{})
			if !ok || err != nil {
				t.Fatalf("%s 1/%d: ok=%v err=%v", name, r, ok, err)
			}
			if img.W != ceilDiv(cfg.Width, r) || img.H != ceilDiv(cfg.Height, r) || off != (image.Point{}) {
				t.Fatalf("%s 1/%d: %dx%d at %v, want %dx%d at 0,0", name, r, img.W, img.H, off, ceilDiv(cfg.Width, r), ceilDiv(cfg.Height, r))
			}
			if !bytes.Equal(img.Pix, want) {
				n := 0
				for i := range want {
					if i < len(img.Pix) && img.Pix[i] != want[i] {
						n++
					}
				}
				t.Errorf("%s 1/%d: %d of %d bytes differ from TF decode_jpeg(ratio=%d)", name, r, n, len(want), r)
			}
		}
	}
}

// checkCrop decodes data at 1/d whole and cropped to need (widened by
// cropMargin, as decodeApply asks) and fails unless every pixel of need is
// the same in both.
func checkCrop(t *testing.T, data []byte, d int, need image.Rectangle) {
	t.Helper()
	full, _, ok, err := libjpegDecode(data, nil, d, image.Rectangle{})
	if !ok || err != nil {
		t.Fatalf("full decode 1/%d: ok=%v err=%v", d, ok, err)
	}
	need = need.Intersect(image.Rect(0, 0, full.W, full.H))
	if need.Empty() {
		return
	}
	part, off, ok, err := libjpegDecode(data, nil, d, need.Inset(-cropMargin))
	if !ok || err != nil {
		t.Fatalf("cropped decode 1/%d %v: ok=%v err=%v", d, need, ok, err)
	}
	if have := image.Rect(off.X, off.Y, off.X+part.W, off.Y+part.H); !need.In(have) {
		t.Fatalf("1/%d: asked for %v, got %v", d, need, have)
	}
	for y := need.Min.Y; y < need.Max.Y; y++ {
		a := full.Pix[3*(y*full.W+need.Min.X) : 3*(y*full.W+need.Max.X)]
		o := 3 * ((y-off.Y)*part.W + need.Min.X - off.X)
		b := part.Pix[o : o+len(a)]
		if !bytes.Equal(a, b) {
			t.Fatalf("1/%d crop %v: row %d differs from the full decode", d, need, y)
		}
	}
}

// TestJPEGCropEqualsFull: decoding only a rectangle (jpeg_skip_scanlines +
// jpeg_crop_scanline, with decodeApply's margin) gives the same pixels in it
// as decoding everything, at every scale, for random rectangles of 4:2:0,
// 4:2:2 and 4:4:4 images.
func TestJPEGCropEqualsFull(t *testing.T) {
	var files [][]byte
	files = append(files, benchPhotoSize(t, 3, 203, 151))
	for _, name := range []string{"golden/photo_odd420", "golden/photo_odd422", "img/q444", "img/progressive", "img/gray"} {
		data, err := os.ReadFile(filepath.Join("testdata", name+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, data)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, data := range files {
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []int{1, 2, 4, 8} {
			w, h := ceilDiv(cfg.Width, d), ceilDiv(cfg.Height, d)
			for range 6 {
				x0, y0 := rng.IntN(w), rng.IntN(h)
				checkCrop(t, data, d, image.Rect(x0, y0, x0+1+rng.IntN(w-x0), y0+1+rng.IntN(h-y0)))
			}
		}
	}
}

// TestDecodeApplyCropPath: the loader's decode (scaled, cropped) gives
// exactly what resizing the whole scaled decode with the same geometry gives,
// for training crops and flips and Eval, both styles, and AugmentInception's
// rectangles (with colour jitter).
func TestDecodeApplyCropPath(t *testing.T) {
	data := benchPhotoSize(t, 9, 260, 190)
	cfg, _, _ := image.DecodeConfig(bytes.NewReader(data))
	for _, p := range []Preprocess{{Norm: ms, InputSize: 48, Margin: 0.03}, {Norm: ms, InputSize: 100, Margin: 0.03}, {Norm: ms, InputSize: 40, Style: StyleVGG},
		{Norm: ms, InputSize: 24, Augment: AugmentInception}, {Norm: ms, InputSize: 48, Augment: AugmentInception, ColorJitter: 0.4}} {
		for _, mode := range []Mode{Train, Eval} {
			for seed := range uint64(5) {
				got := make([]float32, p.Size())
				if err := p.DecodeApply(data, mode, rand.New(rand.NewPCG(seed, 1)), got); err != nil {
					t.Fatal(err)
				}
				g := p.geometry(cfg.Width, cfg.Height, mode, rand.New(rand.NewPCG(seed, 1)))
				d := jpegScale(g)
				sw, sh := ceilDiv(cfg.Width, d), ceilDiv(cfg.Height, d)
				if mode == Eval {
					g = p.geometry(sw, sh, Eval, nil)
				} else if d > 1 {
					g = scaleGeometry(g, d, cfg.Width, cfg.Height, sw, sh)
				}
				img, _, _, err := libjpegDecode(data, nil, d, image.Rectangle{})
				if err != nil {
					t.Fatal(err)
				}
				want := make([]float32, p.Size())
				var r resampler
				r.run(img, g, ms, want)
				if d := maxAbsDiff(got, want); d != 0 {
					t.Fatalf("%+v %s seed %d (1/%d): cropped decode path differs by %g", p, mode, seed, jpegScale(g), d)
				}
			}
		}
	}
}

// FuzzJPEGCrop: for any bytes libjpeg decodes, a cropped decode at any scale
// matches the full decode inside the crop, and never fails where the full
// decode succeeded.
func FuzzJPEGCrop(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil || format != "jpeg" || int64(cfg.Width)*int64(cfg.Height) > 1<<20 || cfg.Width <= 0 || cfg.Height <= 0 {
			return
		}
		if _, _, ok, err := libjpegDecode(data, nil, 1, image.Rectangle{}); !ok || err != nil {
			return
		}
		h := uint64(len(data))
		for _, b := range data[:min(len(data), 64)] {
			h = h*31 + uint64(b)
		}
		rng := rand.New(rand.NewPCG(h, 7))
		for _, d := range []int{1, 2, 4, 8} {
			w, hh := ceilDiv(cfg.Width, d), ceilDiv(cfg.Height, d)
			x0, y0 := rng.IntN(w), rng.IntN(hh)
			checkCrop(t, data, d, image.Rect(x0, y0, x0+1+rng.IntN(w-x0), y0+1+rng.IntN(hh-y0)))
		}
	})
}

// TestInceptionDecodeApplyAlwaysDecodes: AugmentInception's rectangles —
// anywhere in the image, any aspect, from 8% of it to all of it, at every DCT
// scale — always fall inside what the cropped, scaled decode provides, on
// odd and thin image sizes.
func TestInceptionDecodeApplyAlwaysDecodes(t *testing.T) {
	for _, sz := range [][2]int{{97, 61}, {260, 190}, {1001, 37}, {33, 517}} {
		data := benchPhotoSize(t, 3, sz[0], sz[1])
		for _, S := range []int{8, 24, 64} {
			p := Preprocess{Norm: ms, InputSize: S, Augment: AugmentInception, ColorJitter: 0.2}
			dst := make([]float32, p.Size())
			for seed := range uint64(150) {
				if err := p.DecodeApply(data, Train, rand.New(rand.NewPCG(seed, 5)), dst); err != nil {
					t.Fatalf("%dx%d at %d px, seed %d: %v", sz[0], sz[1], S, seed, err)
				}
			}
		}
	}
}

// TestLoaderFullScaleJPEG: with LoaderOptions.FullScaleJPEG the loader
// decodes a JPEG that would be scaled at full size (the batch is exactly the
// full decode resized with the unscaled geometry), and without it at 1/2
// (exactly DecodeApply), in both modes; the two differ.
func TestLoaderFullScaleJPEG(t *testing.T) {
	data := benchPhotoSize(t, 9, 260, 190)
	path := filepath.Join(t.TempDir(), "a.jpg")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	p := Preprocess{Norm: ms, InputSize: 48, Margin: 0.03}
	full, _, _, err := libjpegDecode(data, nil, 1, image.Rectangle{})
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []Mode{Eval, Train} {
		const seed = 3
		rng := func() *rand.Rand { // the loader's stream for epoch 0, position 0
			if mode == Eval {
				return nil
			}
			return rand.New(rand.NewPCG(seed, mix(0, 0, 0)))
		}
		if d := jpegScale(p.geometry(260, 190, mode, rng())); d != 2 {
			t.Fatalf("%s: scale 1/%d, the test needs 1/2", mode, d)
		}
		scaled := make([]float32, p.Size())
		if err := p.DecodeApply(data, mode, rng(), scaled); err != nil {
			t.Fatal(err)
		}
		unscaled := make([]float32, p.Size())
		var r resampler
		r.run(full, p.geometry(260, 190, mode, rng()), ms, unscaled)
		for _, tc := range []struct {
			fullScale bool
			want      []float32
		}{{false, scaled}, {true, unscaled}} {
			l, err := NewLoader(p, LoaderOptions{BatchSize: 1, Workers: 1, Mode: mode, Seed: seed, FullScaleJPEG: tc.fullScale})
			if err != nil {
				t.Fatal(err)
			}
			b := collect(t, l.Epoch(context.Background(), []Sample{{Path: path}}, 0, 0), l)
			if len(b) != 1 || b[0].N != 1 {
				t.Fatalf("%s: %d batches", mode, len(b))
			}
			if d := maxAbsDiff(b[0].Images, tc.want); d != 0 {
				t.Errorf("%s FullScaleJPEG=%v: batch differs by %g from the expected decode", mode, tc.fullScale, d)
			}
		}
		if maxAbsDiff(scaled, unscaled) == 0 {
			t.Errorf("%s: scaled and full-scale decodes are identical, the test shows nothing", mode)
		}
	}
}
