package pipeline

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// shardTree is a training set of 21 good images and 3 bad files spread
// through it (they land in different shards of the shuffled epochs).
func shardTree(t *testing.T) []Sample {
	good, bad := badTree(t)
	more := makeImages(t, t.TempDir(), 9, 3)
	return slices.Concat(good[:4], bad[:1], good[4:9], more[:5], bad[1:2], good[9:], more[5:], bad[3:])
}

// joinShards puts the shards of one batch side by side, as the replicas of
// a data-parallel step see the global batch. Failed is concatenated too.
func joinShards(parts []*Batch) *Batch {
	j := &Batch{Epoch: parts[0].Epoch, Index: parts[0].Index}
	for _, p := range parts {
		j.Images = append(j.Images, p.Images...)
		j.Labels = append(j.Labels, p.Labels...)
		j.Paths = append(j.Paths, p.Paths...)
		j.Failed = append(j.Failed, p.Failed...)
		j.N += p.N
	}
	return j
}

// TestShardsJoinToBatch: with augmentation on (random crops, flips and
// colour jitter, drawn per global position), the batches of 2 and of 3
// shard Loaders put side by side are the unsharded Loader's batches element
// for element — images, labels and paths, bad files replaced included —
// over an Epochs iteration that resumes mid-epoch and crosses two epoch
// boundaries; each shard decodes only its own part (capacity BatchSize /
// shards, its Failed naming only its own slots' bad files). In Eval mode
// (no drop, a last partial batch that leaves a shard empty) the joined
// shards are the unsharded batches, Failed included.
func TestShardsJoinToBatch(t *testing.T) {
	samples := shardTree(t)
	ctx := context.Background()
	pre := testPre
	pre.ColorJitter = 0.4
	const B = 6
	train := LoaderOptions{BatchSize: B, Workers: 2, Mode: Train, Shuffle: true, DropRemainder: true, Seed: 11}
	steps := StepsPerEpoch(len(samples), B, true) // 4
	n := 3*steps - 1                              // from batch 1 of epoch 2 to the end of epoch 4

	l, err := NewLoader(pre, train)
	if err != nil {
		t.Fatal(err)
	}
	want := collect(t, take(l.Epochs(ctx, samples, 2, 1), n), l)
	replaced := 0
	for _, b := range want {
		replaced += len(b.Failed)
	}

	for _, count := range []int{2, 3} {
		var shards [][]*Batch
		inOwn := 0 // bad files reported by a shard other than the first
		for i := range count {
			o := train
			o.Shard = Shard{Index: i, Count: count}
			sl, err := NewLoader(pre, o)
			if err != nil {
				t.Fatal(err)
			}
			got := collect(t, take(sl.Epochs(ctx, samples, 2, 1), n), sl)
			for _, b := range got {
				if b.N != B/count {
					t.Fatalf("%d shards, shard %d batch %d/%d: N=%d, want %d", count, i, b.Epoch, b.Index, b.N, B/count)
				}
				if i > 0 {
					inOwn += len(b.Failed)
				}
			}
			shards = append(shards, got)
		}
		for k := range want {
			var parts []*Batch
			for i := range count {
				parts = append(parts, shards[i][k])
			}
			j, w := joinShards(parts), want[k]
			j.Failed, w.Failed = nil, nil // Train reports once per Loader: each shard its own first sighting
			if err := sameBatches([]*Batch{w}, []*Batch{j}); err != nil {
				t.Fatalf("%d shards, epoch %d batch %d: joined shards differ from the batch: %v\nwant %v\ngot  %v",
					count, want[k].Epoch, want[k].Index, err, want[k].Paths, j.Paths)
			}
		}
		// The test means something only if bad files were replaced, some
		// of them in a shard other than the first.
		if replaced == 0 || inOwn == 0 {
			t.Fatalf("%d shards: %d replacements, %d outside shard 0: the data no longer exercises replacement", count, replaced, inOwn)
		}
	}

	eval := LoaderOptions{BatchSize: B, Workers: 2, Mode: Eval}
	el, _ := NewLoader(pre, eval)
	vsamples := samples[:19] // a last batch of 1
	ewant := collect(t, el.Epoch(ctx, vsamples, 0, 0), el)
	for _, count := range []int{2, 3} {
		var shards [][]*Batch
		for i := range count {
			o := eval
			o.Shard = Shard{Index: i, Count: count}
			sl, _ := NewLoader(pre, o)
			shards = append(shards, collect(t, sl.Epoch(ctx, vsamples, 0, 0), sl))
		}
		for k := range ewant {
			var parts []*Batch
			for i := range count {
				parts = append(parts, shards[i][k])
			}
			if err := sameBatches(ewant[k:k+1], []*Batch{joinShards(parts)}); err != nil {
				t.Fatalf("eval, %d shards, batch %d: %v", count, k, err)
			}
		}
		if last := shards[count-1][len(ewant)-1]; last.N != 0 {
			t.Errorf("eval, %d shards: the last shard of the partial last batch has %d images, want 0", count, last.N)
		}
	}
}

func TestShardOptions(t *testing.T) {
	for _, tc := range []struct {
		batch int
		shard Shard
		want  string
	}{
		{6, Shard{Index: 2, Count: 2}, "shard 2 of 2"},
		{6, Shard{Index: -1, Count: 2}, "shard -1 of 2"},
		{6, Shard{Index: 0, Count: 4}, "does not split into 4"},
		{6, Shard{Index: 1}, "shard 1 of 0"},
	} {
		_, err := NewLoader(testPre, LoaderOptions{BatchSize: tc.batch, Mode: Train, Shard: tc.shard})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("batch %d, %+v: %v, want an error containing %q", tc.batch, tc.shard, err, tc.want)
		}
	}
	l, err := NewLoader(testPre, LoaderOptions{BatchSize: 4, Mode: Eval, Shard: Shard{Index: 1, Count: 2}})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range l.Stream(context.Background(), func(func(Sample, error) bool) {}) {
		if err == nil || !strings.Contains(err.Error(), "sharded") {
			t.Errorf("Stream on a sharded loader: %v, want a refusal", err)
		}
	}
	if lo, hi := (Shard{Index: 2, Count: 3}).Span(12); lo != 8 || hi != 12 {
		t.Errorf("Span: %d..%d, want 8..12", lo, hi)
	}
}
