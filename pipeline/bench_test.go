package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/nfnt/resize"
	"golang.org/x/image/draw"
)

// benchPhoto is a 512×384 photo-like image (gradients, edges, texture and
// sensor-like noise) encoded as JPEG quality 90, 4:2:0 — the size of a
// Food-101 image. Deterministic.
func benchPhoto(tb testing.TB, seed uint64) []byte {
	return benchPhotoSize(tb, seed, 512, 384)
}

func benchPhotoSize(tb testing.TB, seed uint64, w, h int) []byte {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fx, fy := 5+r.Float64()*10, 7+r.Float64()*10
	for y := range h {
		for x := range w {
			n := r.NormFloat64() * 5
			t := 20 * math.Sin(float64(x*y)/900)
			rr := 128 + 100*math.Sin(float64(x)/fx)*math.Cos(float64(y)/fy) + n + t
			g := 128 + 90*math.Cos(float64(x+y)/(fx+fy)) + n
			b := 255*float64(x)/float64(w)*float64(y)/float64(h) + n - t
			if (x-w/3)*(x-w/3)+(y-h/2)*(y-h/2) < h*h/20 {
				rr, g, b = 240+n, 200+n+t, 30+n
			}
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = clampU8(rr), clampU8(g), clampU8(b), 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func clampU8(v float64) uint8 { return uint8(max(0, min(255, v))) }

func BenchmarkDecodeJPEG512(b *testing.B) {
	data := benchPhoto(b, 1)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var dst RGB
	for b.Loop() {
		if _, err := decodeInto(data, &dst); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeJPEG12MP: a phone photo (4032×3024). Decoding dominates
// for such inputs; DCT-domain downscaling (libjpeg scale_denom) would be
// the next step for folders of them.
func BenchmarkDecodeJPEG12MP(b *testing.B) {
	data := benchPhotoSize(b, 1, 4032, 3024)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var dst RGB
	for b.Loop() {
		if _, err := decodeInto(data, &dst); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkApply(b *testing.B) {
	img, err := Decode(benchPhoto(b, 1))
	if err != nil {
		b.Fatal(err)
	}
	for _, style := range []Style{StyleCrop, StyleVGG} {
		for _, mode := range []Mode{Train, Eval} {
			b.Run(fmt.Sprintf("%s/%s", style, mode), func(b *testing.B) {
				p := Preprocess{Norm: ms, InputSize: 224, Margin: 0.02, Style: style}
				dst := make([]float32, p.Size())
				rng := rand.New(rand.NewPCG(1, 2))
				var r resampler
				b.ReportAllocs()
				for b.Loop() {
					if err := p.apply(img, mode, rng, dst, &r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDecodeApply is the per-image work of one worker (the loader's
// decodeApply): decode a JPEG, random crop + flip, resize to 224, normalise.
// 512×384 (crop 364, full-scale decode of the crop's columns), 512×512 (crop
// 492: decoded at 1/2) and a 4032×3024 phone photo (crop 3004: 1/8); "inception"
// is Train with AugmentInception and ColorJitter 0.4.
func BenchmarkDecodeApply(b *testing.B) {
	for _, sz := range [][2]int{{512, 384}, {512, 512}, {4032, 3024}} {
		for _, name := range []string{"train", "eval", "inception"} {
			mode := Train
			if name == "eval" {
				mode = Eval
			}
			b.Run(fmt.Sprintf("%dx%d/%s", sz[0], sz[1], name), func(b *testing.B) {
				data := benchPhotoSize(b, 1, sz[0], sz[1])
				p := DefaultPreprocess()
				if name == "inception" {
					p.Augment, p.ColorJitter = AugmentInception, 0.4
				}
				dst := make([]float32, p.Size())
				rng := rand.New(rand.NewPCG(1, 2))
				var r resampler
				var rgb RGB
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					if err := p.decodeApply(data, &rgb, mode, rng, dst, &r, true); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
			})
		}
	}
}

// BenchmarkLoader measures the whole pipeline (read, decode, augment, batch)
// over 64 files on disk, with 1 worker and with all cores.
func BenchmarkLoader(b *testing.B) {
	dir := b.TempDir()
	var samples []Sample
	for i := range 64 {
		p := filepath.Join(dir, fmt.Sprintf("%02d.jpg", i))
		if err := os.WriteFile(p, benchPhoto(b, uint64(i%8)), 0o644); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, Sample{Path: p, Label: i % 4})
	}
	// shards=2: one task of a two-task cluster, which decodes half of
	// every global batch of 32; global_images/s is the rate of global
	// batches it keeps up with.
	for _, tc := range []struct{ workers, shards int }{{1, 1}, {runtime.NumCPU(), 1}, {1, 2}} {
		b.Run(fmt.Sprintf("workers=%d/shards=%d", tc.workers, tc.shards), func(b *testing.B) {
			l, err := NewLoader(DefaultPreprocess(), LoaderOptions{BatchSize: 32, Workers: tc.workers, Mode: Train, Shuffle: true, DropRemainder: true,
				Shard: Shard{Index: tc.shards - 1, Count: tc.shards}})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			images := 0
			epoch := 0
			for b.Loop() {
				for batch, err := range l.Epoch(context.Background(), samples, epoch, 0) {
					if err != nil {
						b.Fatal(err)
					}
					images += batch.N
					l.Release(batch)
				}
				epoch++
			}
			ips := float64(images) / b.Elapsed().Seconds()
			b.ReportMetric(ips, "images/s")
			b.ReportMetric(ips/float64(tc.workers), "images/s/worker")
			b.ReportMetric(ips*float64(tc.shards), "global_images/s")
		})
	}
}

// BenchmarkResize compares resamplers on the training crop of a 512×384
// image (364×364) to 224×224. Ours writes float32 NHWC directly; the others
// need an image.Image in and a conversion out (included, as in real use).
func BenchmarkResize(b *testing.B) {
	img, err := Decode(benchPhoto(b, 1))
	if err != nil {
		b.Fatal(err)
	}
	const side, S = 364, 224
	g := geometry{x0: 74, y0: 10, rw: side, rh: side, ow: S, oh: S, size: S}
	dst := make([]float32, S*S*3)
	rgba := image.NewRGBA(image.Rect(0, 0, img.W, img.H))
	for i := range img.W * img.H {
		copy(rgba.Pix[4*i:4*i+3], img.Pix[3*i:3*i+3])
		rgba.Pix[4*i+3] = 255
	}
	crop := rgba.SubImage(image.Rect(g.x0, g.y0, g.x0+side, g.y0+side))
	toFloat := func(m *image.RGBA) {
		for i := range S * S {
			dst[3*i] = float32(m.Pix[4*i]) - VGGMeans[0]
			dst[3*i+1] = float32(m.Pix[4*i+1]) - VGGMeans[1]
			dst[3*i+2] = float32(m.Pix[4*i+2]) - VGGMeans[2]
		}
	}
	// ref is TF's tf.image.resize(bilinear, antialias=True) (ours matches it
	// within 2e-3, see TestGoldenTensorFlow); each library reports its mean
	// |Δ| from it in levels as "delta-vs-tf".
	var ref []float32
	deltaVsTF := func(b *testing.B) {
		var sum float64
		for i := range dst {
			sum += math.Abs(float64(dst[i] - ref[i]))
		}
		b.ReportMetric(sum/float64(len(dst)), "delta-vs-tf")
	}
	b.Run("tlearn-antialias-bilinear", func(b *testing.B) {
		var r resampler
		b.ReportAllocs()
		for b.Loop() {
			r.run(img, g, ms, dst)
		}
		ref = slices.Clone(dst)
		deltaVsTF(b)
	})
	for _, k := range []struct {
		name string
		k    draw.Interpolator
	}{{"xdraw-ApproxBiLinear", draw.ApproxBiLinear}, {"xdraw-BiLinear", draw.BiLinear}, {"xdraw-CatmullRom", draw.CatmullRom}} {
		b.Run(k.name, func(b *testing.B) {
			out := image.NewRGBA(image.Rect(0, 0, S, S))
			b.ReportAllocs()
			for b.Loop() {
				k.k.Scale(out, out.Bounds(), crop, crop.Bounds(), draw.Src, nil)
				toFloat(out)
			}
			deltaVsTF(b)
		})
	}
	for _, k := range []struct {
		name string
		f    resize.InterpolationFunction
	}{{"nfnt-Bilinear", resize.Bilinear}, {"nfnt-Lanczos3", resize.Lanczos3}} {
		b.Run(k.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out := resize.Resize(S, S, crop, k.f).(*image.RGBA)
				toFloat(out)
			}
			deltaVsTF(b)
		})
	}
}

// BenchmarkResampler: tlearn's resampler alone on the training crop of a
// 512×384 photo (364×364) to the network input, at the recipe's 224 px and
// a small 64 px input (a 5.7× downscale: 13 taps per axis).
func BenchmarkResampler(b *testing.B) {
	img, err := Decode(benchPhoto(b, 1))
	if err != nil {
		b.Fatal(err)
	}
	for _, S := range []int{224, 64} {
		b.Run(fmt.Sprint(S), func(b *testing.B) {
			g := geometry{x0: 74, y0: 10, rw: 364, rh: 364, ow: S, oh: S, size: S, flip: true}
			dst := make([]float32, S*S*3)
			var r resampler
			for b.Loop() {
				r.run(img, g, ms, dst)
			}
		})
	}
}
