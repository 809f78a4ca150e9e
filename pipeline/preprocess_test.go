package pipeline

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/tlearn/tlearn/imagenorm"
)

// ms is the normalisation of the goldens (TF-Slim's VGG means).
var ms = imagenorm.MeanSubtract

func readF32(t *testing.T, name string) []float32 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return out
}

func maxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// TestGoldenTensorFlow compares preprocessing with TensorFlow's
// tf.image.resize(bilinear, antialias=True) on the same pixels
// (scripts/gen_pipeline_testdata.py), within float32 rounding.
func TestGoldenTensorFlow(t *testing.T) {
	const tol = 2e-3 // levels out of 255
	src, err := DecodeFile(filepath.Join("testdata", "golden", "src.png"))
	if err != nil {
		t.Fatal(err)
	}
	tiny, err := DecodeFile(filepath.Join("testdata", "golden", "tiny.png"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		img    *RGB
		p      Preprocess
		golden string
	}{
		{"crop eval downscale", src, Preprocess{Norm: ms, InputSize: 32, Margin: 0.02}, "crop_eval_src_32.f32"},
		{"crop eval upscale tiny", tiny, Preprocess{Norm: ms, InputSize: 32, Margin: 0.02}, "crop_eval_tiny_32.f32"},
		{"vgg eval", src, Preprocess{Norm: ms, InputSize: 32, Style: StyleVGG}, "vgg_eval_src_32.f32"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := readF32(t, tc.golden)
			got := make([]float32, tc.p.Size())
			if err := tc.p.Apply(tc.img, Eval, nil, got); err != nil {
				t.Fatal(err)
			}
			if len(want) != len(got) {
				t.Fatalf("golden has %d values, want %d", len(want), len(got))
			}
			if d := maxAbsDiff(got, want); d > tol {
				t.Errorf("max |Δ| vs TensorFlow = %g > %g", d, tol)
			}
		})
	}
	t.Run("train geometry with flip", func(t *testing.T) {
		want := readF32(t, "crop_train_src_24.f32")
		got := make([]float32, 24*24*3)
		var r resampler
		r.run(src, geometry{x0: 3, y0: 5, rw: 40, rh: 40, ow: 24, oh: 24, size: 24, flip: true}, ms, got)
		if d := maxAbsDiff(got, want); d > tol {
			t.Errorf("max |Δ| vs TensorFlow = %g > %g", d, tol)
		}
	})
}

func TestGeometryEval(t *testing.T) {
	p := Preprocess{Norm: ms, InputSize: 224, Margin: 0.02}
	tests := []struct {
		w, h         int
		x0, y0, side int
	}{
		{512, 384, 64, 0, 384}, // landscape: offset on x only
		{384, 512, 0, 64, 384}, // portrait: offset on y only (the classic recipe got this wrong)
		{300, 300, 0, 0, 300},
		{301, 200, 50, 0, 200},
		{5, 9, 0, 2, 5},
	}
	for _, tc := range tests {
		g := p.geometry(tc.w, tc.h, Eval, nil)
		if g.x0 != tc.x0 || g.y0 != tc.y0 || g.rw != tc.side || g.rh != tc.side || g.flip || g.ow != 224 {
			t.Errorf("%dx%d: got crop (%d,%d) %dx%d flip=%v, want (%d,%d) side %d", tc.w, tc.h, g.x0, g.y0, g.rw, g.rh, g.flip, tc.x0, tc.y0, tc.side)
		}
	}
}

func TestGeometryTrain(t *testing.T) {
	tests := []struct {
		w, h   int
		margin float64
		side   int
	}{
		{512, 384, 0.02, 369}, // 384·0.96 = 368.6
		{384, 512, 0.02, 369},
		{30, 30, 0.02, 29}, // the same share of a small image
		{40, 60, 0.05, 36},
		{1, 1, 0.4, 1},
		{100, 50, 0, 50},
	}
	for _, tc := range tests {
		if got := TrainCropSide(tc.w, tc.h, tc.margin); got != tc.side {
			t.Errorf("TrainCropSide(%d,%d,%g)=%d, want %d", tc.w, tc.h, tc.margin, got, tc.side)
		}
		p := Preprocess{Norm: ms, InputSize: 224, Margin: tc.margin}
		rng := rand.New(rand.NewPCG(7, 8))
		flips, xs := 0, map[int]bool{}
		for range 2000 {
			g := p.geometry(tc.w, tc.h, Train, rng)
			if g.rw != tc.side || g.rh != tc.side || g.x0 < 0 || g.y0 < 0 || g.x0+g.rw > tc.w || g.y0+g.rh > tc.h {
				t.Fatalf("%dx%d: crop (%d,%d) %dx%d outside the image", tc.w, tc.h, g.x0, g.y0, g.rw, g.rh)
			}
			if g.flip {
				flips++
			}
			xs[g.x0] = true
		}
		if flips < 900 || flips > 1100 {
			t.Errorf("%dx%d: %d flips in 2000, want about half", tc.w, tc.h, flips)
		}
		if want := tc.w - tc.side + 1; len(xs) != want && want < 50 {
			t.Errorf("%dx%d: %d distinct x offsets, want %d", tc.w, tc.h, len(xs), want)
		}
	}
}

func TestGeometryVGG(t *testing.T) {
	p := Preprocess{Norm: ms, InputSize: 224, Style: StyleVGG}
	g := p.geometry(512, 384, Eval, nil)
	if g.oh != 256 || g.ow != 341 || g.wx != (341-224)/2 || g.wy != 16 {
		t.Errorf("eval 512x384: resized %dx%d window (%d,%d)", g.ow, g.oh, g.wx, g.wy)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	sides := map[int]bool{}
	for range 3000 {
		g := p.geometry(300, 600, Train, rng)
		short := min(g.ow, g.oh)
		if short < 256 || short > 512 || g.wx+224 > g.ow || g.wy+224 > g.oh {
			t.Fatalf("train: resized %dx%d window (%d,%d)", g.ow, g.oh, g.wx, g.wy)
		}
		sides[short] = true
	}
	if !sides[256] || !sides[512] || len(sides) < 200 {
		t.Errorf("train resize side covers %d values (want 256..512 inclusive)", len(sides))
	}
}

func TestApplyErrors(t *testing.T) {
	img := &RGB{W: 4, H: 4, Pix: make([]uint8, 48)}
	p := Preprocess{Norm: ms, InputSize: 8}
	tests := []struct {
		name string
		p    Preprocess
		img  *RGB
		mode Mode
		rng  *rand.Rand
		dst  int
	}{
		{"bad size", Preprocess{Norm: ms, InputSize: 0}, img, Eval, nil, 192},
		{"negative margin", Preprocess{Norm: ms, InputSize: 8, Margin: -0.1}, img, Eval, nil, 192},
		{"unknown style", Preprocess{Norm: ms, InputSize: 8, Style: "fancy"}, img, Eval, nil, 192},
		{"no norm", Preprocess{InputSize: 8}, img, Eval, nil, 192},
		{"nil image", p, nil, Eval, nil, 192},
		{"short pix", p, &RGB{W: 4, H: 4, Pix: make([]uint8, 47)}, Eval, nil, 192},
		{"short dst", p, img, Eval, nil, 191},
		{"train without rng", p, img, Train, nil, 192},
	}
	for _, tc := range tests {
		if err := tc.p.Apply(tc.img, tc.mode, tc.rng, make([]float32, tc.dst)); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if err := DefaultPreprocess().Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}

// TestNormPlusMinusOne: the [-1, 1] normalisation is the mean-subtracting
// output shifted and scaled, (v + mean − 127.5)/127.5, for both styles and
// modes (the same rng seed gives the same geometry), through Apply and the
// Loader's DecodeApply.
func TestNormPlusMinusOne(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "golden", "src.png"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, style := range []Style{StyleCrop, StyleVGG} {
		for _, mode := range []Mode{Eval, Train} {
			ref := Preprocess{Norm: ms, InputSize: 24, Margin: 0.05, Style: style}
			pm := ref
			pm.Norm = imagenorm.PlusMinusOne
			run := func(p Preprocess, decode bool) []float32 {
				out := make([]float32, p.Size())
				rng := rand.New(rand.NewPCG(7, 9))
				if decode {
					err = p.DecodeApply(data, mode, rng, out)
				} else {
					err = p.Apply(src, mode, rng, out)
				}
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			for _, decode := range []bool{false, true} {
				a, b := run(ref, decode), run(pm, decode)
				var worst float64
				for i := range a {
					want := (float64(a[i]) + float64(ms.Mean[i%3]) - 127.5) / 127.5
					worst = max(worst, math.Abs(float64(b[i])-want))
				}
				if worst > 1e-5 {
					t.Errorf("%s %s decode=%v: max |plus_minus_one − (mean_subtract + mean − 127.5)/127.5| = %g > 1e-5", style, mode, decode, worst)
				}
				if lo, hi := minMax(b); lo < -1-1e-5 || hi > 1+1e-5 || hi-lo < 0.5 {
					t.Errorf("%s %s decode=%v: plus_minus_one range [%g, %g], want a spread within [-1, 1]", style, mode, decode, lo, hi)
				}
			}
		}
	}
}

func minMax(v []float32) (lo, hi float32) {
	lo, hi = v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

// TestFlatImage: a flat image stays flat through every resize (weights are
// normalised), at any size ratio.
func TestFlatImage(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {3, 500}, {224, 224}, {1000, 7}, {640, 480}} {
		img := &RGB{W: sz[0], H: sz[1], Pix: make([]uint8, 3*sz[0]*sz[1])}
		for i := range img.Pix {
			img.Pix[i] = []uint8{200, 100, 50}[i%3]
		}
		for _, style := range []Style{StyleCrop, StyleVGG} {
			p := Preprocess{Norm: ms, InputSize: 17, Margin: 0.05, Style: style}
			dst := make([]float32, p.Size())
			if err := p.Apply(img, Train, rand.New(rand.NewPCG(1, 2)), dst); err != nil {
				t.Fatal(err)
			}
			for i, v := range dst {
				want := []float32{200, 100, 50}[i%3] - VGGMeans[i%3]
				if math.Abs(float64(v-want)) > 1e-3 {
					t.Fatalf("%v %s: value %d = %v, want %v", sz, style, i, v, want)
				}
			}
		}
	}
}

var update = flag.Bool("update", false, "rewrite testdata/golden/*.png from the current code")

// TestGoldenAugment pins the random training crops and flips drawn from a
// fixed seed (what exact resume relies on across versions), as PNGs of the
// preprocessed output plus the means. Regenerate with go test -update after
// an intended change.
func TestGoldenAugment(t *testing.T) {
	src, err := DecodeFile(filepath.Join("testdata", "golden", "src.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, style := range []Style{StyleCrop, StyleVGG} {
		p := Preprocess{Norm: ms, InputSize: 32, Margin: 0.02, Style: style}
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 3 {
			name := filepath.Join("testdata", "golden", fmt.Sprintf("train_%s_%d.png", style, i))
			dst := make([]float32, p.Size())
			if err := p.Apply(src, Train, rng, dst); err != nil {
				t.Fatal(err)
			}
			got := image.NewNRGBA(image.Rect(0, 0, 32, 32))
			for j := range 32 * 32 {
				for c := range 3 {
					got.Pix[4*j+c] = uint8(math.Round(float64(min(max(dst[3*j+c]+VGGMeans[c], 0), 255))))
				}
				got.Pix[4*j+3] = 255
			}
			if *update {
				var buf bytes.Buffer
				if err := png.Encode(&buf, got); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := DecodeFile(name)
			if err != nil {
				t.Fatalf("%v (run go test -run GoldenAugment -update to create it)", err)
			}
			for j := range 32 * 32 {
				for c := range 3 {
					if d := int(got.Pix[4*j+c]) - int(want.Pix[3*j+c]); d > 1 || d < -1 {
						t.Fatalf("%s: pixel %d channel %d = %d, golden %d (±1)", name, j, c, got.Pix[4*j+c], want.Pix[3*j+c])
					}
				}
			}
		}
	}
}

// TestVGGSizesFollowInputSize: StyleVGG's resize sizes are Slim's at 224 px
// and scale with the input (issue 15 item 3): at 32 px evaluation sees the
// central 32/37 of the shorter side, not the central 32 px of a 256-px resize.
func TestVGGSizesFollowInputSize(t *testing.T) {
	for _, tc := range []struct{ S, lo, hi int }{{224, 256, 512}, {32, 37, 73}, {448, 512, 1024}, {1, 1, 2}} {
		if lo, hi := VGGResizeRange(tc.S); lo != tc.lo || hi != tc.hi {
			t.Errorf("VGGResizeRange(%d) = %d..%d, want %d..%d", tc.S, lo, hi, tc.lo, tc.hi)
		}
	}
	p := Preprocess{Norm: ms, InputSize: 32, Style: StyleVGG}
	g := p.geometry(64, 48, Eval, nil)
	if g.oh != 37 || g.ow != 49 || g.wy != 2 || g.wx != 8 {
		t.Errorf("64×48 at 32 px: resized to %d×%d, window at (%d,%d); want 49×37 at (8,2)", g.ow, g.oh, g.wx, g.wy)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		if g := p.geometry(64, 48, Train, rng); g.oh < 37 || g.oh > 73 {
			t.Fatalf("training resize of the shorter side %d outside 37..73", g.oh)
		}
	}
}
