//go:build stress

package pipeline

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestStreamNoLeakRandomCancel (make stress, also under -race): Stream over
// WalkImages of a folder with bad files, stopped at random points by
// cancelling the context, by breaking out of the loop, or by a context that
// expires mid-batch; every goroutine must be gone after each stop.
// (TestNoLeaks covers Epoch; this covers Stream and the walker.)
func TestStreamNoLeakRandomCancel(t *testing.T) {
	dir := t.TempDir()
	makeImages(t, dir, 60, 3)
	os.WriteFile(filepath.Join(dir, "zz-bad.jpg"), []byte("not an image"), 0o644)
	os.Symlink("loop.jpg", filepath.Join(dir, "loop.jpg"))
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	base := runtime.NumGoroutine()
	for iter := 0; iter < 60; iter++ {
		l, err := NewLoader(testPre, LoaderOptions{BatchSize: 1 + rng.Intn(7), Workers: 1 + rng.Intn(4), Prefetch: 1 + rng.Intn(3), Mode: Eval})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if iter%3 == 2 {
			ctx, cancel = context.WithTimeout(context.Background(), time.Duration(rng.Intn(3000))*time.Microsecond)
		}
		stopAt := rng.Intn(12)
		i := 0
		for b, err := range l.Stream(ctx, WalkImages(ctx, []string{dir})) {
			if err != nil {
				break
			}
			l.Release(b)
			if i == stopAt {
				if iter%3 == 0 {
					cancel() // keep consuming: the stream must end by itself
				} else {
					break
				}
			}
			i++
		}
		cancel()
		waitGoroutines(t, base)
	}
}
