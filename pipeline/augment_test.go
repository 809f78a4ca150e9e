package pipeline

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"
)

// sampleRNG is the random source the Loader gives the sample at position pos
// of epoch (salt 0: not a replacement).
func sampleRNG(seed uint64, epoch, pos int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, mix(uint64(epoch), uint64(pos), 0)))
}

// TestInceptionCropGolden pins AugmentInception's rectangles and flips for
// (image size, seed, epoch, position): what exact resume relies on across
// versions. The last rows are images where no attempt fits, so the
// torchvision fallback (the whole image cut to the aspect range) is taken.
func TestInceptionCropGolden(t *testing.T) {
	p := Preprocess{Norm: ms, InputSize: 224, Augment: AugmentInception}
	tests := []struct {
		w, h           int
		seed           uint64
		epoch, pos     int
		x0, y0, cw, ch int
		flip           bool
	}{
		{512, 384, 1, 0, 0, 39, 58, 305, 299, false},
		{512, 384, 1, 0, 1, 120, 24, 289, 314, true},
		{512, 384, 1, 3, 17, 20, 68, 266, 218, true},
		{384, 512, 7, 2, 5, 56, 276, 211, 226, true},
		{4000, 3000, 2, 9, 1234, 209, 2, 3595, 2995, false},
		{36, 36, 1, 0, 3, 15, 0, 21, 16, true},
		{2000, 40, 1, 0, 0, 973, 0, 53, 40, false}, // too wide for any attempt: 53×40 centred
		{1, 1000, 1, 0, 0, 0, 499, 1, 1, false},    // too tall: 1×1 centred
	}
	for _, tc := range tests {
		g := p.geometry(tc.w, tc.h, Train, sampleRNG(tc.seed, tc.epoch, tc.pos))
		if g.x0 != tc.x0 || g.y0 != tc.y0 || g.rw != tc.cw || g.rh != tc.ch || g.flip != tc.flip || g.ow != 224 || g.oh != 224 {
			t.Errorf("%dx%d seed %d epoch %d position %d: crop (%d,%d) %dx%d flip %v → %dx%d, want (%d,%d) %dx%d flip %v → 224x224",
				tc.w, tc.h, tc.seed, tc.epoch, tc.pos, g.x0, g.y0, g.rw, g.rh, g.flip, g.ow, g.oh, tc.x0, tc.y0, tc.cw, tc.ch, tc.flip)
		}
	}
}

// inceptionAnalytic returns, for a w×h image, the share of the image's area
// and the log aspect ratio of AugmentInception's rectangle as a weighted
// grid over the draws (area share a uniform, log aspect u uniform) that fit:
// a rectangle fits when a·e^u ≤ w/h and a·e^−u ≤ h/w, and the attempts are
// independent, so the result is the draw conditioned on fitting (the
// fallback's probability, (1 − P(fit))^10, is below 1e-8 for these images).
func inceptionAnalytic(w, h int) (areas, logAspects []float64) {
	const n = 600
	q := float64(w) / float64(h)
	lr0, lr1 := math.Log(InceptionAspectMin), math.Log(InceptionAspectMax)
	for i := range n {
		a := InceptionAreaMin + (float64(i)+0.5)/n*(InceptionAreaMax-InceptionAreaMin)
		for j := range n {
			u := lr0 + (float64(j)+0.5)/n*(lr1-lr0)
			if a*math.Exp(u) <= q && a*math.Exp(-u) <= 1/q {
				areas = append(areas, a)
				logAspects = append(logAspects, u)
			}
		}
	}
	return areas, logAspects
}

func meanOf(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// quantile returns the q-quantile of v (sorted in place).
func quantile(v []float64, q float64) float64 {
	sort.Float64s(v)
	return v[min(len(v)-1, int(q*float64(len(v))))]
}

// TestInceptionCropDistribution draws 20,000 AugmentInception rectangles on
// a square and a 4:3 image and compares the measured share of the area and
// log aspect ratio (mean and 10/50/90 % quantiles) with the analytic
// distribution: uniform area share in [0.08, 1] and log-uniform aspect in
// [3/4, 4/3], conditioned on the rectangle fitting in the image.
func TestInceptionCropDistribution(t *testing.T) {
	const draws = 20000
	const tol = 0.01
	p := Preprocess{Norm: ms, InputSize: 224, Augment: AugmentInception}
	for _, sz := range [][2]int{{1000, 1000}, {640, 480}} {
		w, h := sz[0], sz[1]
		rng := rand.New(rand.NewPCG(3, uint64(w)))
		var areas, logAsp []float64
		flips := 0
		for range draws {
			g := p.geometry(w, h, Train, rng)
			if g.x0 < 0 || g.y0 < 0 || g.x0+g.rw > w || g.y0+g.rh > h {
				t.Fatalf("%dx%d: rectangle (%d,%d) %dx%d outside the image", w, h, g.x0, g.y0, g.rw, g.rh)
			}
			areas = append(areas, float64(g.rw*g.rh)/float64(w*h))
			logAsp = append(logAsp, math.Log(float64(g.rw)/float64(g.rh)))
			if g.flip {
				flips++
			}
		}
		wantA, wantU := inceptionAnalytic(w, h)
		check := func(what string, got, want float64) {
			t.Logf("%dx%d %s: measured %.4f, analytic %.4f", w, h, what, got, want)
			if math.Abs(got-want) > tol {
				t.Errorf("%dx%d %s: measured %.4f, analytic %.4f (±%g)", w, h, what, got, want, tol)
			}
		}
		check("mean area share", meanOf(areas), meanOf(wantA))
		check("mean log aspect", meanOf(logAsp), meanOf(wantU))
		for _, q := range []float64{0.1, 0.5, 0.9} {
			check("area share quantile "+strconv.FormatFloat(q, 'g', -1, 64), quantile(areas, q), quantile(wantA, q))
			check("log aspect quantile "+strconv.FormatFloat(q, 'g', -1, 64), quantile(logAsp, q), quantile(wantU, q))
		}
		if lo, hi := quantile(areas, 0), quantile(areas, 1); lo < 0.079 || hi > 1 {
			t.Errorf("%dx%d: area share range [%g, %g] outside [0.08, 1]", w, h, lo, hi)
		}
		if flips < draws*48/100 || flips > draws*52/100 {
			t.Errorf("%dx%d: %d flips in %d draws, want about half", w, h, flips, draws)
		}
	}
}

// TestAugmentNoneAndFlip: AugmentNone trains on exactly Eval's floats and
// AugmentFlip on them mirrored, for both styles, through Apply and through
// DecodeApply (a JPEG decoded at DCT scale 1/4 in the libjpeg build).
func TestAugmentNoneAndFlip(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "golden", "photo.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, style := range []Style{StyleCrop, StyleVGG} {
		for _, decode := range []bool{false, true} {
			run := func(a Augment, mode Mode, seed uint64) []float32 {
				p := Preprocess{Norm: ms, InputSize: 16, Margin: 0.05, Style: style, Augment: a}
				out := make([]float32, p.Size())
				rng := rand.New(rand.NewPCG(seed, 1))
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
			eval := run(AugmentCrop, Eval, 0)
			if got := run(AugmentNone, Train, 1); !slices.Equal(got, eval) {
				t.Errorf("%s decode=%v: augment none in training differs from eval", style, decode)
			}
			if got := run(AugmentCrop, Train, 1); slices.Equal(got, eval) {
				t.Errorf("%s decode=%v: augment crop in training equals eval (no augmentation?)", style, decode)
			}
			mirrored := slices.Clone(eval)
			mirror(mirrored, 16)
			var same, flipped int
			for seed := range uint64(20) {
				switch got := run(AugmentFlip, Train, seed); {
				case slices.Equal(got, eval):
					same++
				case slices.Equal(got, mirrored):
					flipped++
				default:
					t.Fatalf("%s decode=%v seed %d: augment flip gives neither the eval crop nor its mirror", style, decode, seed)
				}
			}
			if same == 0 || flipped == 0 {
				t.Errorf("%s decode=%v: augment flip over 20 seeds: %d unflipped, %d flipped", style, decode, same, flipped)
			}
		}
	}
}

// mirror flips an S×S×3 HWC image horizontally in place.
func mirror(v []float32, S int) {
	for y := range S {
		row := v[y*S*3 : (y+1)*S*3]
		for l, r := 0, S-1; l < r; l, r = l+1, r-1 {
			for c := range 3 {
				row[3*l+c], row[3*r+c] = row[3*r+c], row[3*l+c]
			}
		}
	}
}

// TestColorJitter: the jitter's three operations on known pixels (factors
// 1 change nothing; brightness scales; contrast 0 gives the mean grey;
// saturation 0 gives each pixel's grey; results clamp to 0..255), in both
// normalisations; and the drawn factors stay in [1−s, 1+s].
func TestColorJitter(t *testing.T) {
	px := [][3]float32{{200, 100, 50}, {10, 20, 30}, {255, 255, 0}, {0, 0, 0}}
	grey := func(p [3]float32) float32 { return 0.299*p[0] + 0.587*p[1] + 0.114*p[2] }
	var meanGrey float32
	for _, p := range px {
		meanGrey += grey(p) / float32(len(px))
	}
	tests := []struct {
		name string
		j    jitter
		want func(p [3]float32) [3]float32
	}{
		{"identity", jitter{on: true, bright: 1, contr: 1, satur: 1}, func(p [3]float32) [3]float32 { return p }},
		{"brightness 1.5", jitter{on: true, bright: 1.5, contr: 1, satur: 1}, func(p [3]float32) [3]float32 {
			return [3]float32{min(p[0]*1.5, 255), min(p[1]*1.5, 255), min(p[2]*1.5, 255)}
		}},
		{"contrast 0", jitter{on: true, bright: 1, contr: 0, satur: 1}, func(p [3]float32) [3]float32 {
			return [3]float32{meanGrey, meanGrey, meanGrey}
		}},
		{"saturation 0", jitter{on: true, bright: 1, contr: 1, satur: 0}, func(p [3]float32) [3]float32 {
			g := grey(p)
			return [3]float32{g, g, g}
		}},
		{"saturation 2 clamps", jitter{on: true, bright: 1, contr: 1, satur: 2}, func(p [3]float32) [3]float32 {
			g := grey(p)
			var o [3]float32
			for c := range 3 {
				o[c] = min(max(g+2*(p[c]-g), 0), 255)
			}
			return o
		}},
	}
	for _, norm := range []struct {
		mean  [3]float32
		scale float32
	}{{ms.Mean, ms.Scale}, {[3]float32{127.5, 127.5, 127.5}, 1 / 127.5}} {
		for _, tc := range tests {
			v := make([]float32, 0, 3*len(px))
			for _, p := range px {
				for c := range 3 {
					v = append(v, (p[c]-norm.mean[c])*norm.scale)
				}
			}
			tc.j.apply(v, norm.mean, norm.scale)
			for i, p := range px {
				want := tc.want(p)
				for c := range 3 {
					got := v[3*i+c]/norm.scale + norm.mean[c]
					if math.Abs(float64(got-want[c])) > 1e-3 {
						t.Errorf("%s (scale %g): pixel %v channel %d = %g, want %g", tc.name, norm.scale, p, c, got, want[c])
					}
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for range 1000 {
		j := drawJitter(0.4, rng)
		for _, f := range []float32{j.bright, j.contr, j.satur} {
			if f < 0.6 || f > 1.4 {
				t.Fatalf("factor %g outside [0.6, 1.4]", f)
			}
		}
	}
}

// TestAugmentLoaderDeterminism: with AugmentInception and ColorJitter the
// batches depend on (seed, epoch, position) only — the same with 1 and 3
// workers and when resumed mid-epoch — and differ between epochs.
func TestAugmentLoaderDeterminism(t *testing.T) {
	samples := makeImages(t, t.TempDir(), 14, 2)
	ctx := context.Background()
	p := Preprocess{Norm: ms, InputSize: 16, Augment: AugmentInception, ColorJitter: 0.4}
	var ref []*Batch
	for _, workers := range []int{1, 3} {
		l, err := NewLoader(p, LoaderOptions{BatchSize: 4, Workers: workers, Mode: Train, Shuffle: true, DropRemainder: true, Seed: 4})
		if err != nil {
			t.Fatal(err)
		}
		got := collect(t, l.Epoch(ctx, samples, 2, 0), l)
		if ref == nil {
			ref = got
			if other := collect(t, l.Epoch(ctx, samples, 3, 0), l); slices.Equal(other[0].Images, ref[0].Images) {
				t.Error("epoch 3 repeats epoch 2's images")
			}
			continue
		}
		if err := sameBatches(ref, got); err != nil {
			t.Fatalf("1 vs %d workers: %v", workers, err)
		}
		if err := sameBatches(ref[1:], collect(t, l.Epoch(ctx, samples, 2, 1), l)); err != nil {
			t.Fatalf("resumed at batch 1: %v", err)
		}
	}
}

// TestAugmentValidate: the combinations that cannot work are refused.
func TestAugmentValidate(t *testing.T) {
	base := Preprocess{Norm: ms, InputSize: 16}
	bad := []Preprocess{
		{Norm: ms, InputSize: 16, Augment: "mixup"},
		{Norm: ms, InputSize: 16, Augment: AugmentInception, Style: StyleVGG},
		{Norm: ms, InputSize: 16, Augment: AugmentNone, ColorJitter: 0.2},
		{Norm: ms, InputSize: 16, ColorJitter: -0.1},
		{Norm: ms, InputSize: 16, ColorJitter: 1.5},
		{Norm: ms, InputSize: 16, ColorJitter: math.NaN()},
	}
	for _, p := range bad {
		if err := p.Validate(); err == nil {
			t.Errorf("augment %q style %q jitter %g: no error", p.Augment, p.Style, p.ColorJitter)
		}
	}
	for _, a := range AugmentNames {
		p := base
		p.Augment = Augment(a)
		if a != string(AugmentNone) {
			p.ColorJitter = 0.4
		}
		if err := p.Validate(); err != nil {
			t.Errorf("augment %s: %v", a, err)
		}
	}
}
