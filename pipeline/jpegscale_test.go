package pipeline

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestEvalJPEGScale: the rule the export graph's decode_jpeg ratio follows —
// the largest of 8, 4, 2 that leaves the Eval source region at least the
// resized size — and 1 in a build whose decoder cannot scale.
func TestEvalJPEGScale(t *testing.T) {
	crop, vgg := DefaultPreprocess(), Preprocess{Norm: ms, InputSize: 224, Style: StyleVGG}
	tests := []struct {
		p    Preprocess
		w, h int
		want int
	}{
		{crop, 512, 384, 1},   // Food-101 landscape: 384 → 224 is 1.7×
		{crop, 512, 512, 2},   // 512 → 224: 2.3×
		{crop, 447, 600, 1},   // just under 2×224
		{crop, 448, 600, 2},   // exactly 2×224
		{crop, 1000, 872, 2},  // 3.9×
		{crop, 3024, 4032, 8}, // 12 MP phone photo, either orientation
		{crop, 4032, 3024, 8},
		{crop, 1800, 1000, 4},
		{vgg, 512, 384, 1},  // shorter side → 256: 1.5×
		{vgg, 1024, 768, 2}, // 768 → 256: 3×
		{vgg, 4032, 3024, 8},
		{Preprocess{Norm: ms, InputSize: 8}, 96, 64, 8},
		{Preprocess{Norm: ms, InputSize: 0}, 4032, 3024, 1}, // invalid preprocessing: no scaling
	}
	for _, tc := range tests {
		want := tc.want
		if decodeJPEGFast == nil {
			want = 1
		}
		if got := tc.p.EvalJPEGScale(tc.w, tc.h); got != want {
			t.Errorf("%s %d×%d: EvalJPEGScale = %d, want %d (decoder %s)", tc.p.Style, tc.w, tc.h, got, want, JPEGDecoder())
		}
		if got := tc.p.EvalJPEGScale(tc.h, tc.w); got != want {
			t.Errorf("%s %d×%d: EvalJPEGScale not symmetric: %d, want %d", tc.p.Style, tc.h, tc.w, got, want)
		}
	}
}

// TestScaleGeometry: a training crop mapped to the 1/d image stays inside it,
// keeps a square square and at least the output size (jpegScale's promise),
// and a whole-image region stays the whole scaled image.
func TestScaleGeometry(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range []Preprocess{DefaultPreprocess(), {Norm: ms, InputSize: 224, Style: StyleVGG}, {Norm: ms, InputSize: 32, Margin: 0.05}} {
		for range 300 {
			w, h := 20+rng.IntN(5000), 20+rng.IntN(5000)
			g := p.geometry(w, h, Train, rng)
			d := jpegScale(g)
			if d == 1 {
				continue
			}
			sw, sh := ceilDiv(w, d), ceilDiv(h, d)
			s := scaleGeometry(g, d, w, h, sw, sh)
			if s.x0 < 0 || s.y0 < 0 || s.x0+s.rw > sw || s.y0+s.rh > sh {
				t.Fatalf("%s %dx%d 1/%d: region %d,%d %dx%d outside %dx%d", p.Style, w, h, d, s.x0, s.y0, s.rw, s.rh, sw, sh)
			}
			if s.rw < s.ow || s.rh < s.oh {
				t.Fatalf("%s %dx%d 1/%d: region %dx%d smaller than the output %dx%d", p.Style, w, h, d, s.rw, s.rh, s.ow, s.oh)
			}
			if g.rw == g.rh && s.rw != s.rh {
				t.Fatalf("%s %dx%d 1/%d: square %d became %dx%d", p.Style, w, h, d, g.rw, s.rw, s.rh)
			}
			if g.rw == w && g.rh == h && (s.rw != sw || s.rh != sh) {
				t.Fatalf("%s %dx%d 1/%d: whole image became %dx%d of %dx%d", p.Style, w, h, d, s.rw, s.rh, sw, sh)
			}
			if s.ow != g.ow || s.oh != g.oh || s.wx != g.wx || s.wy != g.wy || s.flip != g.flip {
				t.Fatalf("output side of the geometry changed: %+v → %+v", g, s)
			}
		}
	}
}

// TestDecodeApplyEvalVsTensorFlow: the export contract. DecodeApply in Eval
// mode equals TF's decode_jpeg(ratio = EvalJPEGScale) followed by the usual
// StyleCrop eval graph (central square, antialiased bilinear, minus means),
// computed by real TensorFlow. In the pure-Go build (no scaling) it reports
// the difference instead.
func TestDecodeApplyEvalVsTensorFlow(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "golden", "photo.jpg")) // 96×64
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		size, ratio int
		golden      string
	}{{32, 2, "crop_eval_photo_r2_32.f32"}, {16, 4, "crop_eval_photo_r4_16.f32"}, {8, 8, "crop_eval_photo_r8_8.f32"}} {
		p := Preprocess{Norm: ms, InputSize: tc.size}
		want := readF32(t, tc.golden)
		got := make([]float32, p.Size())
		if err := p.DecodeApply(data, Eval, nil, got); err != nil {
			t.Fatal(err)
		}
		d := maxAbsDiff(got, want)
		if decodeJPEGFast == nil {
			t.Logf("S=%d: pure-Go build (full-scale decode) vs TF decode_jpeg(ratio=%d) graph: max |Δ| %.2f", tc.size, tc.ratio, d)
			continue
		}
		if r := p.EvalJPEGScale(96, 64); r != tc.ratio {
			t.Fatalf("S=%d: EvalJPEGScale = %d, want %d", tc.size, r, tc.ratio)
		}
		if d > 1e-3 {
			t.Errorf("S=%d: DecodeApply vs TF decode_jpeg(ratio=%d) + eval graph: max |Δ| %g, want ≤ 1e-3", tc.size, tc.ratio, d)
		}
	}
}

// TestDecodeApplyFinite: every mode and style gives finite, in-range outputs
// for images that are and are not scaled, in both builds.
func TestDecodeApplyFinite(t *testing.T) {
	data := benchPhotoSize(t, 7, 300, 200)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, p := range []Preprocess{{Norm: ms, InputSize: 32, Margin: 0.04}, {Norm: ms, InputSize: 150, Margin: 0.04}, {Norm: ms, InputSize: 32, Style: StyleVGG}} {
		dst := make([]float32, p.Size())
		for _, m := range []Mode{Train, Eval} {
			if err := p.DecodeApply(data, m, rng, dst); err != nil {
				t.Fatal(err)
			}
			for _, v := range dst {
				if math.IsNaN(float64(v)) || v < -130 || v > 256 {
					t.Fatalf("%+v %s: output %v out of range", p, m, v)
				}
			}
		}
	}
}
