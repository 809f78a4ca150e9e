package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// makeImages writes n small JPEGs of varying sizes with labels i%classes.
func makeImages(t testing.TB, dir string, n, classes int) []Sample {
	t.Helper()
	r := rand.New(rand.NewPCG(42, uint64(n)))
	var out []Sample
	for i := range n {
		w, h := 20+r.IntN(60), 20+r.IntN(60)
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		base := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
		for y := range h {
			for x := range w {
				img.Set(x, y, color.RGBA{base.R + uint8(x*3), base.G + uint8(y*5), base.B ^ uint8(x*y), 255})
			}
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("img%04d.jpg", i))
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, Sample{Path: p, Label: i % classes})
	}
	return out
}

// collect runs an iteration and returns deep copies of its batches.
func collect(t *testing.T, seq func(yield func(*Batch, error) bool), l *Loader) []*Batch {
	t.Helper()
	var out []*Batch
	for b, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		c := *b
		c.Images = slices.Clone(b.Images[:b.N*l.p.Size()])
		c.Labels = slices.Clone(b.Labels[:b.N])
		c.Paths = slices.Clone(b.Paths[:b.N])
		c.Failed = slices.Clone(b.Failed)
		out = append(out, &c)
		l.Release(b)
	}
	return out
}

func sameBatches(a, b []*Batch) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d batches vs %d", len(a), len(b))
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.N != y.N || x.Epoch != y.Epoch || x.Index != y.Index || !slices.Equal(x.Labels, y.Labels) ||
			!slices.Equal(x.Paths, y.Paths) || !slices.Equal(x.Images, y.Images) || !slices.Equal(x.Failed, y.Failed) {
			return fmt.Errorf("batch %d differs", i)
		}
	}
	return nil
}

var testPre = Preprocess{Norm: ms, InputSize: 16, Margin: 0.1}

func TestStepsPerEpoch(t *testing.T) {
	tests := []struct {
		n, b int
		drop bool
		want int
	}{{10, 3, true, 3}, {10, 3, false, 4}, {9, 3, false, 3}, {2, 3, true, 0}, {0, 3, false, 0}, {5, 0, false, 0}}
	for _, tc := range tests {
		if got := StepsPerEpoch(tc.n, tc.b, tc.drop); got != tc.want {
			t.Errorf("StepsPerEpoch(%d,%d,%v)=%d, want %d", tc.n, tc.b, tc.drop, got, tc.want)
		}
	}
}

// TestDeterminism: same seed → same batches whatever the worker count;
// resuming mid-epoch gives exactly the tail of the full epoch; another epoch
// gives another order.
func TestDeterminism(t *testing.T) {
	samples := makeImages(t, t.TempDir(), 23, 3)
	ctx := context.Background()
	opts := LoaderOptions{BatchSize: 4, Mode: Train, Shuffle: true, DropRemainder: true, Seed: 9}
	vgg := Preprocess{Norm: ms, InputSize: 16, Style: StyleVGG}
	vggRef := make(map[int][]*Batch)
	for _, workers := range []int{1, 3} {
		o := opts
		o.Workers = workers
		l, _ := NewLoader(vgg, o)
		vggRef[workers] = collect(t, l.Epoch(ctx, samples, 1, 0), l)
	}
	if err := sameBatches(vggRef[1], vggRef[3]); err != nil {
		t.Fatalf("vgg style, 1 vs 3 workers: %v", err)
	}
	var ref []*Batch
	for _, workers := range []int{1, 3, 2} {
		o := opts
		o.Workers = workers
		l, err := NewLoader(testPre, o)
		if err != nil {
			t.Fatal(err)
		}
		got := collect(t, l.Epoch(ctx, samples, 1, 0), l)
		if len(got) != 5 {
			t.Fatalf("%d batches, want 5", len(got))
		}
		for i, b := range got {
			if b.N != 4 || b.Index != i || b.Epoch != 1 {
				t.Fatalf("batch %d: N=%d index=%d epoch=%d", i, b.N, b.Index, b.Epoch)
			}
		}
		if ref == nil {
			ref = got
		} else if err := sameBatches(ref, got); err != nil {
			t.Fatalf("workers=%d: %v", workers, err)
		}
		resumed := collect(t, l.Epoch(ctx, samples, 1, 3), l)
		if err := sameBatches(ref[3:], resumed); err != nil {
			t.Fatalf("resume at 3: %v", err)
		}
	}
	l, _ := NewLoader(testPre, opts)
	other := collect(t, l.Epoch(ctx, samples, 2, 0), l)
	if slices.Equal(other[0].Paths, ref[0].Paths) && slices.Equal(other[1].Paths, ref[1].Paths) {
		t.Error("epoch 2 has the order of epoch 1")
	}
	// Same sample, different epoch → different crop (the RNG is keyed by epoch).
	o := opts
	o.Shuffle = false
	l, _ = NewLoader(testPre, o)
	e1 := collect(t, l.Epoch(ctx, samples, 1, 0), l)
	e2 := collect(t, l.Epoch(ctx, samples, 2, 0), l)
	if slices.Equal(e1[0].Images, e2[0].Images) {
		t.Error("epoch 2 repeats epoch 1's augmentation")
	}
}

// TestEvalCoverage: every sample once, in order, last batch partial, and each
// image equal to Preprocess.DecodeApply on its own.
func TestEvalCoverage(t *testing.T) {
	samples := makeImages(t, t.TempDir(), 10, 4)
	l, err := NewLoader(testPre, LoaderOptions{BatchSize: 4, Workers: 3, Mode: Eval})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, l.Epoch(context.Background(), samples, 0, 0), l)
	if len(got) != 3 || got[2].N != 2 {
		t.Fatalf("%d batches, last N=%d; want 3, 2", len(got), got[len(got)-1].N)
	}
	sz := testPre.Size()
	want := make([]float32, sz)
	k := 0
	for _, b := range got {
		for i := range b.N {
			s := samples[k]
			if b.Paths[i] != s.Path || int(b.Labels[i]) != s.Label {
				t.Fatalf("slot %d: %s/%d, want %s/%d", k, b.Paths[i], b.Labels[i], s.Path, s.Label)
			}
			data, err := os.ReadFile(s.Path)
			if err != nil {
				t.Fatal(err)
			}
			if err := testPre.DecodeApply(data, Eval, nil, want); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(b.Images[i*sz:(i+1)*sz], want) {
				t.Fatalf("slot %d: image differs from DecodeApply", k)
			}
			k++
		}
	}
}

func TestShuffledEvalCoverage(t *testing.T) {
	samples := makeImages(t, t.TempDir(), 11, 2)
	l, _ := NewLoader(testPre, LoaderOptions{BatchSize: 3, Workers: 2, Mode: Eval, Shuffle: true, Seed: 5})
	seen := map[string]int{}
	var order []string
	for _, b := range collect(t, l.Epoch(context.Background(), samples, 0, 0), l) {
		for _, p := range b.Paths {
			seen[p]++
			order = append(order, p)
		}
	}
	if len(seen) != 11 || len(order) != 11 {
		t.Fatalf("saw %d distinct of %d, want each of 11 once", len(seen), len(order))
	}
	sorted := slices.Clone(order)
	slices.Sort(sorted)
	if slices.Equal(order, sorted) {
		t.Error("Shuffle did not reorder")
	}
}

func badTree(t *testing.T) (good, bad []Sample) {
	dir := t.TempDir()
	good = makeImages(t, dir, 12, 2)
	for _, name := range []string{"zero.jpg", "truncated.jpg", "text.jpg"} {
		data, _ := os.ReadFile(filepath.Join("testdata", "bad", name))
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		bad = append(bad, Sample{Path: p, Label: 1})
	}
	bad = append(bad, Sample{Path: filepath.Join(dir, "missing.jpg"), Label: 0})
	return good, bad
}

func TestBadFilesTrain(t *testing.T) {
	good, bad := badTree(t)
	samples := slices.Concat(good[:3], bad[:2], good[3:8], bad[2:], good[8:])
	l, err := NewLoader(testPre, LoaderOptions{BatchSize: 4, Workers: 2, Mode: Train, Shuffle: true, DropRemainder: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	reported := map[string]int{}
	for epoch := range 3 {
		got := collect(t, l.Epoch(context.Background(), samples, epoch, 0), l)
		if len(got) != 4 {
			t.Fatalf("epoch %d: %d batches, want 4", epoch, len(got))
		}
		for _, b := range got {
			if b.N != 4 {
				t.Errorf("epoch %d batch %d: N=%d, want a full batch", epoch, b.Index, b.N)
			}
			for _, p := range b.Paths {
				if slices.ContainsFunc(bad, func(s Sample) bool { return s.Path == p }) {
					t.Errorf("bad file %s in a batch", p)
				}
			}
			for _, f := range b.Failed {
				reported[f.Path]++
				if f.Reason == "" {
					t.Errorf("%s: empty reason", f.Path)
				}
			}
		}
	}
	// Every bad file in a batch's own slice is reported exactly once over
	// three epochs (one in the dropped tail may be found only by lookahead).
	if len(reported) < 3 {
		t.Errorf("reported %v, want at least 3 of the 4 bad files", reported)
	}
	for p, n := range reported {
		if n != 1 {
			t.Errorf("%s reported %d times", p, n)
		}
	}
}

func TestBadFilesEval(t *testing.T) {
	good, bad := badTree(t)
	samples := slices.Concat(good[:3], bad[:2], good[3:5], bad[2:])
	l, _ := NewLoader(testPre, LoaderOptions{BatchSize: 4, Workers: 2, Mode: Eval})
	for range 2 { // eval reports on every pass
		got := collect(t, l.Epoch(context.Background(), samples, 0, 0), l)
		var failed []string
		n := 0
		for _, b := range got {
			n += b.N
			for _, f := range b.Failed {
				failed = append(failed, filepath.Base(f.Path))
			}
		}
		if n != 5 || !slices.Equal(failed, []string{"zero.jpg", "truncated.jpg", "text.jpg", "missing.jpg"}) {
			t.Errorf("N total %d, failed %v", n, failed)
		}
		if got[0].N != 3 || got[0].Paths[2] != good[2].Path {
			t.Errorf("first batch not packed: N=%d %v", got[0].N, got[0].Paths)
		}
	}
}

func TestAllBad(t *testing.T) {
	_, bad := badTree(t)
	l, _ := NewLoader(testPre, LoaderOptions{BatchSize: 2, Workers: 2, Mode: Train, DropRemainder: true})
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, e := range l.Epoch(context.Background(), bad, 0, 0) {
			if e != nil {
				err = e
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("hung on an unreadable dataset")
	}
	if err == nil {
		t.Error("no error for a dataset without readable images")
	}
}

func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNoLeaks: breaking out, cancelling, and finishing all stop every
// goroutine.
func TestNoLeaks(t *testing.T) {
	samples := makeImages(t, t.TempDir(), 40, 2)
	base := runtime.NumGoroutine()
	l, _ := NewLoader(testPre, LoaderOptions{BatchSize: 2, Workers: 4, Prefetch: 3, Mode: Train, Shuffle: true})

	for range l.Epoch(context.Background(), samples, 0, 0) {
		break
	}
	waitGoroutines(t, base)

	ctx, cancel := context.WithCancel(context.Background())
	var gotErr error
	i := 0
	for b, err := range l.Epoch(ctx, samples, 0, 0) {
		if err != nil {
			gotErr = err
			break
		}
		l.Release(b)
		if i++; i == 2 {
			cancel()
		}
	}
	if !errors.Is(gotErr, context.Canceled) {
		t.Errorf("after cancel: error %v, want context.Canceled", gotErr)
	}
	waitGoroutines(t, base)

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	for _, err := range l.Epoch(ctx, samples, 0, 0) {
		if err == nil {
			t.Error("batch from a cancelled context")
		}
	}
	waitGoroutines(t, base)

	for range l.Stream(context.Background(), WalkImages(context.Background(), []string{filepath.Dir(samples[0].Path)})) {
		break
	}
	n := 0
	for _, err := range l.Stream(context.Background(), WalkImages(context.Background(), []string{filepath.Dir(samples[0].Path)})) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 20 {
		t.Errorf("stream: %d batches, want 20", n)
	}
	waitGoroutines(t, base)
}

func TestStreamWalk(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"b/2.jpg": "", "b/1.PNG": "not really a png", "a.jpg": "", "c/notes.txt": "x", ".hidden/x.jpg": "", "z.webp": "",
	})
	explicit := filepath.Join(dir, "c", "notes.txt")
	missing := filepath.Join(dir, "missing.jpg")
	var walked []string
	for s, err := range WalkImages(context.Background(), []string{dir, explicit, missing}) {
		if s.Label != -1 {
			t.Errorf("label %d", s.Label)
		}
		if (err != nil) != (s.Path == missing) {
			t.Errorf("%s: error %v", s.Path, err)
		}
		rel, _ := filepath.Rel(dir, s.Path)
		walked = append(walked, rel)
	}
	want := []string{"a.jpg", "b/1.PNG", "b/2.jpg", "z.webp", "c/notes.txt", "missing.jpg"}
	if !slices.Equal(walked, want) {
		t.Fatalf("walk: %v, want %v", walked, want)
	}
	l, _ := NewLoader(testPre, LoaderOptions{BatchSize: 4, Workers: 2})
	var paths, failed []string
	for b, err := range l.Stream(context.Background(), WalkImages(context.Background(), []string{dir, explicit, missing})) {
		if err != nil {
			t.Fatal(err)
		}
		for i := range b.N {
			rel, _ := filepath.Rel(dir, b.Paths[i])
			paths = append(paths, rel)
			if b.Labels[i] != -1 {
				t.Errorf("label %d", b.Labels[i])
			}
		}
		for _, f := range b.Failed {
			rel, _ := filepath.Rel(dir, f.Path)
			failed = append(failed, rel)
		}
	}
	if !slices.Equal(paths, []string{"a.jpg", "b/2.jpg", "z.webp"}) { // z.webp holds a JPEG: content decides
		t.Errorf("decoded %v", paths)
	}
	if !slices.Equal(failed, []string{"b/1.PNG", "c/notes.txt", "missing.jpg"}) {
		t.Errorf("failed %v", failed)
	}
}

func TestLoaderOptions(t *testing.T) {
	for _, o := range []LoaderOptions{{BatchSize: 0}, {BatchSize: 1, Workers: -1}, {BatchSize: 1, Prefetch: -1}, {BatchSize: 1, Mode: 7}} {
		if _, err := NewLoader(testPre, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if _, err := NewLoader(Preprocess{}, LoaderOptions{BatchSize: 1}); err == nil {
		t.Error("invalid preprocessing accepted")
	}
	l, _ := NewLoader(testPre, LoaderOptions{BatchSize: 2})
	for _, err := range l.Epoch(context.Background(), make([]Sample, 4), 0, 5) {
		if err == nil {
			t.Error("start batch past the end accepted")
		}
	}
}

// TestEpochs: one Epochs iteration from the middle of epoch 1 yields exactly
// what Epoch yields for the tail of epoch 1 and then epochs 2 and 3, whatever
// the worker count, including a bad file's report and replacement; breaking
// out stops every goroutine; no samples is an error.
func TestEpochs(t *testing.T) {
	dir := t.TempDir()
	samples := makeImages(t, dir, 23, 3)
	bad := filepath.Join(dir, "bad.jpg")
	if err := os.WriteFile(bad, []byte("not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	samples = append(samples, Sample{Path: bad, Label: 1})
	ctx := context.Background()
	for _, workers := range []int{1, 3} {
		opts := LoaderOptions{BatchSize: 4, Workers: workers, Mode: Train, Shuffle: true, DropRemainder: true, Seed: 5}
		l, _ := NewLoader(testPre, opts)
		var want []*Batch
		want = append(want, collect(t, l.Epoch(ctx, samples, 1, 4), l)...)
		want = append(want, collect(t, l.Epoch(ctx, samples, 2, 0), l)...)
		want = append(want, collect(t, l.Epoch(ctx, samples, 3, 0), l)...)

		l, _ = NewLoader(testPre, opts) // a fresh Loader: bad files are reported once per Loader
		got := collect(t, take(l.Epochs(ctx, samples, 1, 4), len(want)), l)
		if err := sameBatches(want, got); err != nil {
			t.Fatalf("workers=%d: Epochs vs Epoch: %v", workers, err)
		}
		if got[len(got)-1].Epoch != 3 || got[0].Epoch != 1 || got[0].Index != 4 {
			t.Errorf("workers=%d: epochs/indices %d/%d … %d", workers, got[0].Epoch, got[0].Index, got[len(got)-1].Epoch)
		}
	}

	base := runtime.NumGoroutine()
	l, _ := NewLoader(testPre, LoaderOptions{BatchSize: 4, Workers: 2, Mode: Train, Shuffle: true, DropRemainder: true})
	n := 0
	for b, err := range l.Epochs(ctx, samples, 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		l.Release(b)
		if n++; n == 13 { // into the third epoch
			break
		}
	}
	waitGoroutines(t, base)
	for _, err := range l.Epochs(ctx, nil, 0, 0) {
		if err == nil {
			t.Error("Epochs over no samples yielded a batch")
		}
	}
	for _, err := range l.Epochs(ctx, samples, 0, 99) {
		if err == nil {
			t.Error("Epochs from batch 99 yielded a batch")
		}
	}
}

// take stops seq after its first n batches.
func take(seq func(yield func(*Batch, error) bool), n int) func(yield func(*Batch, error) bool) {
	return func(yield func(*Batch, error) bool) {
		i := 0
		for b, err := range seq {
			if !yield(b, err) {
				return
			}
			if i++; i == n {
				return
			}
		}
	}
}
