package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// BadFile is an input that could not be read, decoded or preprocessed.
type BadFile struct {
	Path, Reason string
}

// Batch is one batch of preprocessed images, ready to become one tensor.
type Batch struct {
	// Images holds Cap·S·S·3 float32 values (NHWC, S = InputSize), one
	// contiguous buffer; only the first N images are valid.
	Images []float32
	// Labels holds Cap labels; the first N are valid (-1 when unknown).
	Labels []int32
	// Paths holds the source of each valid image, in the same order.
	Paths []string
	// N is the number of valid images.
	N int
	// Failed lists inputs of this batch's part of the stream that could not
	// be used, in stream order. In Eval mode (and Stream) every bad input of
	// the batch's slice is listed on every pass and N counts only the good
	// ones. In Train mode a bad file is listed once per Loader (the first
	// time it is met), and with DropRemainder it is replaced so N stays full.
	Failed []BadFile
	// Epoch and Index are the epoch number and the batch index within it
	// (for Stream: 0 and the running batch number).
	Epoch, Index int
}

// Cap is the batch capacity (LoaderOptions.BatchSize).
func (b *Batch) Cap() int { return len(b.Labels) }

// LoaderOptions configures a Loader.
type LoaderOptions struct {
	// BatchSize is the number of images per batch (≥ 1).
	BatchSize int
	// Workers is the number of decoding goroutines; 0 means runtime.NumCPU().
	Workers int
	// Prefetch is the number of batches prepared ahead of the consumer; 0
	// means 2.
	Prefetch int
	// Mode is Train (random crops and flips) or Eval.
	Mode Mode
	// Shuffle reorders the samples of every epoch, from (Seed, epoch).
	Shuffle bool
	// DropRemainder drops the last partial batch of an epoch; in Train mode
	// it also keeps every batch full by replacing bad files.
	DropRemainder bool
	// Seed drives shuffling and augmentation.
	Seed int64
	// FullScaleJPEG turns off reduced-scale JPEG decoding (libjpeg build):
	// every JPEG is decoded at full scale, then cropped and resized, as in
	// the pure-Go build. The default (false) decodes at DCT scale 1/2, 1/4
	// or 1/8 when the crop is downscaled by at least 2× (jpegscale.go),
	// which is what the exported serving_default graph does too; true is
	// for measuring what that scaling changes (--jpeg-scale full).
	FullScaleJPEG bool
	// Shard, when its Count is above 1, makes the Loader prepare only one
	// shard of every batch (Epoch and Epochs; Stream refuses it): BatchSize
	// stays the global batch, and each yielded Batch holds the
	// BatchSize/Count positions Index·BatchSize/Count … of the global
	// batch, decoded and augmented exactly as an unsharded Loader with the
	// same options does them (the order, the crops and the replacement of
	// bad files depend on the global positions only). So the shards of
	// Count Loaders, Index 0 … Count−1, put side by side are the unsharded
	// batch element for element: each task of a data-parallel run decodes
	// only its own replica's images.
	Shard Shard
}

// Shard selects one of Count equal contiguous parts of every batch (see
// LoaderOptions.Shard). The zero value, like Count 1, is the whole batch.
type Shard struct {
	Index, Count int
}

// sharded reports whether s selects part of the batch.
func (s Shard) sharded() bool { return s.Count > 1 }

// Span returns the positions lo … hi−1 of a global batch of batchSize that
// shard s holds (0 … batchSize−1 when unsharded).
func (s Shard) Span(batchSize int) (lo, hi int) {
	if !s.sharded() {
		return 0, batchSize
	}
	per := batchSize / s.Count
	return s.Index * per, (s.Index + 1) * per
}

// Loader decodes and preprocesses samples in parallel into batches. One
// Loader may run several Epoch or Stream iterations, one after the other or
// concurrently.
type Loader struct {
	p    Preprocess
	opts LoaderOptions
	free chan *Batch

	mu       sync.Mutex
	bad      map[string]string // path → reason, for files already found bad
	reported map[string]bool   // Train mode: bad files already listed in a Batch
}

// NewLoader validates p and opts and returns a Loader.
func NewLoader(p Preprocess, opts LoaderOptions) (*Loader, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("new loader: %w", err)
	}
	if opts.BatchSize < 1 {
		return nil, fmt.Errorf("new loader: batch size %d must be at least 1", opts.BatchSize)
	}
	if opts.Workers < 0 || opts.Prefetch < 0 {
		return nil, fmt.Errorf("new loader: workers (%d) and prefetch (%d) must not be negative", opts.Workers, opts.Prefetch)
	}
	if opts.Mode != Train && opts.Mode != Eval {
		return nil, fmt.Errorf("new loader: unknown mode %d", opts.Mode)
	}
	if sh := opts.Shard; sh != (Shard{}) {
		switch {
		case sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count:
			return nil, fmt.Errorf("new loader: shard %d of %d: want 0 ≤ index < count", sh.Index, sh.Count)
		case opts.BatchSize%sh.Count != 0:
			return nil, fmt.Errorf("new loader: batch size %d does not split into %d equal shards", opts.BatchSize, sh.Count)
		}
	}
	if opts.Workers == 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.Prefetch == 0 {
		opts.Prefetch = 2
	}
	return &Loader{
		p:        p,
		opts:     opts,
		free:     make(chan *Batch, opts.Prefetch+2),
		bad:      map[string]string{},
		reported: map[string]bool{},
	}, nil
}

// StepsPerEpoch returns the number of batches of size batch over n samples:
// ⌊n/batch⌋ when dropRemainder, else ⌈n/batch⌉.
func StepsPerEpoch(n, batch int, dropRemainder bool) int {
	if batch < 1 || n < 1 {
		return 0
	}
	if dropRemainder {
		return n / batch
	}
	return (n + batch - 1) / batch
}

// capacity is the size of the batches the Loader yields: BatchSize, or its
// shard's part of it.
func (l *Loader) capacity() int {
	lo, hi := l.opts.Shard.Span(l.opts.BatchSize)
	return hi - lo
}

// Release gives b's buffers back for reuse by later batches. b must not be
// used afterwards. Calling it is optional.
func (l *Loader) Release(b *Batch) {
	if b == nil || len(b.Labels) != l.capacity() || len(b.Images) != l.capacity()*l.p.Size() {
		return
	}
	select {
	case l.free <- b:
	default:
	}
}

func (l *Loader) getBatch(epoch, index int) *Batch {
	var b *Batch
	select {
	case b = <-l.free:
	default:
		B := l.capacity()
		b = &Batch{
			Images: make([]float32, B*l.p.Size()),
			Labels: make([]int32, B),
			Paths:  make([]string, B),
		}
	}
	b.N, b.Failed, b.Epoch, b.Index = 0, nil, epoch, index
	return b
}

// Epoch streams one epoch over samples, in order of batch index, starting at
// batch startBatch. With Shuffle the order is a permutation drawn from (Seed,
// epoch); in Train mode each sample's crop and flip come from (Seed, epoch,
// position in the epoch), so the batches depend only on the options, samples,
// epoch and index — not on worker count or scheduling — and resuming at
// startBatch reproduces exactly what an uninterrupted run would have produced.
//
// In Train mode with DropRemainder a bad file at slot i of a batch is
// replaced by the first good sample from position i past the batch's slice
// of the epoch order on (the same slot of the next batch, then onwards,
// wrapping around and skipping the batch's own slice), chosen by slot i
// alone so that a Shard replaces as the whole batch does; that sample also
// appears in its own batch, with a different crop. The iteration
// ends early, yielding an error, only if ctx is cancelled or a batch cannot be
// filled because no sample in the epoch is readable.
//
// With a Shard, each batch holds the shard's positions of the global batch
// (none, N = 0, for a shard past the end of a last partial batch).
//
// Breaking out of the loop stops all goroutines before the loop returns.
func (l *Loader) Epoch(ctx context.Context, samples []Sample, epoch, startBatch int) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		produce, err := l.epochProducer(samples, epoch, startBatch)
		if err != nil {
			yield(nil, err)
			return
		}
		l.run(ctx, yield, func(ctx context.Context, submit func(*pending) bool) error {
			produce(submit)
			return nil
		})
	}
}

// Epochs streams epoch after epoch over samples — epoch firstEpoch from batch
// startBatch, then every following epoch from its first batch — with one set
// of workers: the next epoch's first batches are prepared while the consumer
// still works on the last ones of the current epoch, so there is no pause at
// an epoch boundary (on a folder of a few hundred images, a pause every few
// steps). Every batch is exactly the one Epoch(ctx, samples, b.Epoch, ...)
// yields at b.Index. The iteration ends only when the consumer stops, ctx is
// cancelled or a batch cannot be filled; it yields an error at once for an
// empty sample list.
func (l *Loader) Epochs(ctx context.Context, samples []Sample, firstEpoch, startBatch int) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		if StepsPerEpoch(len(samples), l.opts.BatchSize, l.opts.DropRemainder) == 0 {
			yield(nil, fmt.Errorf("epochs: %d samples make no batch of %d", len(samples), l.opts.BatchSize))
			return
		}
		first, err := l.epochProducer(samples, firstEpoch, startBatch)
		if err != nil {
			yield(nil, err)
			return
		}
		l.run(ctx, yield, func(ctx context.Context, submit func(*pending) bool) error {
			produce := first
			for epoch := firstEpoch + 1; ; epoch++ {
				if !produce(submit) {
					return nil
				}
				next, err := l.epochProducer(samples, epoch, 0)
				if err != nil {
					return err
				}
				produce = next
			}
		})
	}
}

// epochProducer returns the function that submits the batches of one epoch
// from startBatch on (the order and replacement rules of Epoch). It returns
// false when submit refused a batch (the consumer stopped).
func (l *Loader) epochProducer(samples []Sample, epoch, startBatch int) (func(submit func(*pending) bool) bool, error) {
	n := len(samples)
	B := l.opts.BatchSize
	steps := StepsPerEpoch(n, B, l.opts.DropRemainder)
	if startBatch < 0 || (startBatch > steps && n > 0) {
		return nil, fmt.Errorf("epoch %d: start batch %d out of range 0..%d", epoch, startBatch, steps)
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if l.opts.Shuffle {
		r := rand.New(rand.NewPCG(uint64(l.opts.Seed), mix(uint64(epoch), 0x5_4ff1e, 0)))
		r.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	replace := l.opts.Mode == Train && l.opts.DropRemainder
	slo, shi := l.opts.Shard.Span(B)
	return func(submit func(*pending) bool) bool {
		for b := startBatch; b < steps; b++ {
			lo, hi := b*B, min((b+1)*B, n)
			// This shard's part of the batch: global positions from..to-1.
			from, to := min(lo+slo, hi), min(lo+shi, hi)
			p := l.newPending(epoch, b, to-from)
			p.first = from - lo
			for i := from; i < to; i++ {
				p.slots[i-from] = slot{s: samples[order[i]], pos: i}
			}
			if replace {
				// Slot i's candidates start at the same slot of the next
				// batch and go on through the epoch order, wrapping around
				// and skipping the batch's own slice: they depend on i
				// alone, not on which other slots failed, so a shard
				// replaces its bad files as the whole batch would.
				others := n - (hi - lo)
				p.next = func(i, k int) (Sample, int, bool, bool) {
					if k >= others {
						return Sample{}, 0, false, false
					}
					pos := (hi + (i+k)%others) % n
					return samples[order[pos]], pos, pos >= steps*B, true
				}
			}
			if !submit(p) {
				return false
			}
		}
		return true
	}, nil
}

// Stream preprocesses samples as they arrive, in order, in batches of
// BatchSize (the last one partial), for prediction over inputs too many to
// list first: the first batch is ready as soon as BatchSize samples have
// arrived and been decoded, and memory stays bounded by the prefetch depth.
//
// A sample that arrives with an error and a non-empty Path (as WalkImages
// yields for an unreadable directory or a missing argument) is reported in
// Failed like a bad file; an error with an empty Path ends the stream with
// that error. Labels are passed through (-1 for unknown).
//
// samples is consumed on a separate goroutine; when the consumer stops, that
// goroutine returns at the next sample, so a samples sequence that can block
// indefinitely (reading stdin, say) should itself watch ctx.
func (l *Loader) Stream(ctx context.Context, samples iter.Seq2[Sample, error]) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		if l.opts.Shard.sharded() {
			yield(nil, errors.New("stream: a sharded loader cannot stream (shards are parts of an epoch's batches)"))
			return
		}
		B := l.opts.BatchSize
		l.run(ctx, yield, func(ctx context.Context, submit func(*pending) bool) error {
			var p *pending
			index, pos := 0, 0
			for s, err := range samples {
				if ctx.Err() != nil {
					return nil
				}
				if err != nil && s.Path == "" {
					if p != nil && len(p.slots) > 0 {
						submit(p)
					}
					return err
				}
				if p == nil {
					p = l.newPending(0, index, 0)
				}
				sl := slot{s: s, pos: pos}
				if err != nil {
					sl.reason = reasonOf(err)
					sl.preset = true
				}
				p.slots = append(p.slots, sl)
				pos++
				if len(p.slots) == B {
					if !submit(p) {
						return nil
					}
					p = nil
					index++
				}
			}
			if p != nil {
				submit(p)
			}
			return nil
		})
	}
}

// slot is one position of a batch being prepared.
type slot struct {
	s      Sample
	pos    int    // position in the epoch (or stream)
	salt   uint64 // 0, or 1+slot in the global batch for replacements: a different crop
	reason string // why it failed, if it did
	preset bool   // failed before reaching a worker
	report bool   // list it in Failed
}

// pending is a batch whose samples are being decoded by the workers.
type pending struct {
	b         *Batch
	slots     []slot
	remaining atomic.Int32
	done      chan struct{}
	err       error
	// first is the index in the global batch of slots[0] (0 unsharded).
	first int
	// next returns the k-th replacement candidate for slot i of the global
	// batch, whether it lies in the dropped tail (so nobody else reports
	// it), and false when there are no more. nil: no replacement.
	next func(i, k int) (s Sample, pos int, tail, ok bool)
}

func (l *Loader) newPending(epoch, index, n int) *pending {
	return &pending{
		b:     l.getBatch(epoch, index),
		slots: make([]slot, n, l.capacity()),
		done:  make(chan struct{}),
	}
}

type task struct {
	p *pending
	i int
}

// worker holds one goroutine's reusable buffers.
type worker struct {
	buf []byte
	rgb RGB
	res resampler
	pcg *rand.PCG
	rng *rand.Rand
}

// run starts the workers and the producer, and yields finished batches in
// order until the producer is done, the consumer stops or ctx is cancelled.
// All goroutines have exited when run returns.
func (l *Loader) run(parent context.Context, yield func(*Batch, error) bool,
	produce func(ctx context.Context, submit func(*pending) bool) error) {
	ctx, cancel := context.WithCancel(parent)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	tasks := make(chan task, l.opts.Workers*2)
	ordered := make(chan *pending, l.opts.Prefetch)
	var prodErr error // written by the producer before close(ordered)

	for range l.opts.Workers {
		wg.Go(func() {
			w := &worker{pcg: rand.NewPCG(0, 0)}
			w.rng = rand.New(w.pcg)
			for {
				select {
				case t, ok := <-tasks:
					if !ok {
						return
					}
					l.process(ctx, w, t)
				case <-ctx.Done():
					return
				}
			}
		})
	}
	wg.Go(func() {
		defer close(tasks)
		defer close(ordered)
		prodErr = produce(ctx, func(p *pending) bool {
			p.remaining.Store(int32(len(p.slots)))
			select {
			case ordered <- p:
			case <-ctx.Done():
				return false
			}
			if len(p.slots) == 0 {
				l.finish(ctx, nil, p)
				return true
			}
			for i := range p.slots {
				select {
				case tasks <- task{p, i}:
				case <-ctx.Done():
					return false
				}
			}
			return true
		})
	})

	for p := range ordered {
		select {
		case <-p.done:
		case <-ctx.Done():
			yield(nil, fmt.Errorf("pipeline: %w", context.Cause(parent)))
			return
		}
		if p.err != nil {
			yield(nil, p.err)
			return
		}
		if !yield(p.b, nil) {
			return
		}
	}
	if parent.Err() != nil {
		yield(nil, fmt.Errorf("pipeline: %w", context.Cause(parent)))
		return
	}
	if prodErr != nil {
		yield(nil, prodErr)
	}
}

// process decodes one slot into its place in the batch buffer; the worker
// that completes the batch finishes it.
func (l *Loader) process(ctx context.Context, w *worker, t task) {
	p, i := t.p, t.i
	sl := &p.slots[i]
	if !sl.preset {
		if reason := l.load(w, sl.s.Path, p.b.Epoch, sl.pos, sl.salt, p.b.Images[i*l.p.Size():(i+1)*l.p.Size()]); reason != "" {
			sl.reason = reason
		}
	}
	if p.remaining.Add(-1) == 0 {
		l.finish(ctx, w, p)
	}
}

// load reads, decodes and preprocesses one file into dst, returning the
// reason for a failure or "".
func (l *Loader) load(w *worker, path string, epoch, pos int, salt uint64, dst []float32) string {
	l.mu.Lock()
	reason, known := l.bad[path]
	l.mu.Unlock()
	if known {
		return reason
	}
	reason = l.loadFile(w, path, epoch, pos, salt, dst)
	if reason != "" {
		l.mu.Lock()
		l.bad[path] = reason
		l.mu.Unlock()
	}
	return reason
}

func (l *Loader) loadFile(w *worker, path string, epoch, pos int, salt uint64, dst []float32) string {
	data, err := readFile(path, w.buf)
	if err != nil {
		return reasonOf(err)
	}
	w.buf = data
	var rng *rand.Rand
	if l.opts.Mode == Train {
		w.pcg.Seed(uint64(l.opts.Seed), mix(uint64(epoch), uint64(pos), salt))
		rng = w.rng
	}
	if err := l.p.decodeApply(data, &w.rgb, l.opts.Mode, rng, dst, &w.res, !l.opts.FullScaleJPEG); err != nil {
		return reasonOf(err)
	}
	return ""
}

// reasonOf turns an error into a BadFile reason without repeating the path.
func reasonOf(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// firstReport records that path was reported and says whether this is the
// first time (Train mode reports each bad file once per Loader).
func (l *Loader) firstReport(path string) bool {
	if l.opts.Mode != Train {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.reported[path] {
		return false
	}
	l.reported[path] = true
	return true
}

// finish fills bad slots with replacements (Train + DropRemainder) or packs
// the good images to the front, fills Labels/Paths/Failed and signals done.
// w is nil for an empty batch.
func (l *Loader) finish(ctx context.Context, w *worker, p *pending) {
	defer close(p.done)
	b := p.b
	sz := l.p.Size()
	for i := range p.slots {
		sl := &p.slots[i]
		if sl.reason != "" {
			sl.report = l.firstReport(sl.s.Path)
		}
	}
	if p.next != nil {
		var extra []BadFile
		for i := range p.slots {
			sl := &p.slots[i]
			if sl.reason == "" {
				continue
			}
			if sl.report {
				b.Failed = append(b.Failed, BadFile{Path: sl.s.Path, Reason: sl.reason})
			}
			g := p.first + i // the slot in the global batch
			for k := 0; ; k++ {
				if ctx.Err() != nil {
					p.err = ctx.Err()
					return
				}
				s, pos, tail, ok := p.next(g, k)
				if !ok {
					p.err = fmt.Errorf("epoch %d batch %d: cannot fill the batch: none of the remaining samples could be read (last failure: %s: %s); check the dataset",
						b.Epoch, b.Index, sl.s.Path, sl.reason)
					return
				}
				salt := uint64(g) + 1
				reason := l.load(w, s.Path, b.Epoch, pos, salt, b.Images[i*sz:(i+1)*sz])
				if reason == "" {
					sl.s, sl.pos, sl.salt, sl.reason = s, pos, salt, ""
					break
				}
				if tail && l.firstReport(s.Path) {
					extra = append(extra, BadFile{Path: s.Path, Reason: reason})
				}
			}
		}
		b.Failed = append(b.Failed, extra...)
		for i, sl := range p.slots {
			b.Labels[i] = int32(sl.s.Label)
			b.Paths[i] = sl.s.Path
		}
		b.N = len(p.slots)
		return
	}
	n := 0
	for i, sl := range p.slots {
		if sl.reason != "" {
			if sl.report {
				b.Failed = append(b.Failed, BadFile{Path: sl.s.Path, Reason: sl.reason})
			}
			continue
		}
		if n != i {
			copy(b.Images[n*sz:(n+1)*sz], b.Images[i*sz:(i+1)*sz])
		}
		b.Labels[n] = int32(sl.s.Label)
		b.Paths[n] = sl.s.Path
		n++
	}
	for i := n; i < len(b.Paths); i++ {
		b.Paths[i] = ""
	}
	b.N = n
}

// mix hashes three words into one (splitmix64 steps), for RNG streams keyed
// by (epoch, position, salt).
func mix(a, b, c uint64) uint64 {
	h := a*0x9E3779B97F4A7C15 ^ b
	h = splitmix(h)
	h ^= c * 0xBF58476D1CE4E5B9
	return splitmix(h)
}

func splitmix(z uint64) uint64 {
	z += 0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}
