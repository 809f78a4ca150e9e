//go:build unix

package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestLoaderPrefetches: while the consumer still holds batch 0 (a training
// step's Session.Run), the workers read the inputs of exactly the next
// Prefetch batches, and not the one after. The inputs are named pipes, so a
// file is read only when the test writes it: the test writes batches 1 and 2
// from inside the consumer's loop body and that write can only finish if
// the loader reads them then. The batches are the same as from plain files.
func TestLoaderPrefetches(t *testing.T) {
	const B, prefetch, batches = 2, 2, 4
	plain := makeImages(t, t.TempDir(), B*batches, 3)
	dir := t.TempDir()
	var pipes []Sample
	data := make([][]byte, len(plain))
	for i, s := range plain {
		var err error
		if data[i], err = os.ReadFile(s.Path); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Base(s.Path))
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Skipf("no named pipes here: %v", err)
		}
		pipes = append(pipes, Sample{Path: p, Label: s.Label})
	}
	// feed writes sample i's bytes into its pipe (blocking until the loader
	// opens and reads it) and reports on the returned channel.
	feed := func(i int) <-chan error {
		done := make(chan error, 1)
		go func() {
			f, err := os.OpenFile(pipes[i].Path, os.O_WRONLY, 0)
			if err == nil {
				_, err = f.Write(data[i])
				err = errors.Join(err, f.Close())
			}
			done <- err
		}()
		return done
	}
	opts := LoaderOptions{BatchSize: B, Workers: 2, Prefetch: prefetch, Mode: Eval}
	ref, err := NewLoader(testPre, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := collect(t, ref.Epoch(context.Background(), plain, 0, 0), ref)

	l, err := NewLoader(testPre, opts)
	if err != nil {
		t.Fatal(err)
	}
	watchdog := time.After(2 * time.Minute) // a hang, not a timing check
	for i := range B {
		feed(i)
	}
	var got []*Batch
	for b, err := range l.Epoch(context.Background(), pipes, 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if b.Index == 0 {
			var fed []<-chan error
			for i := B; i < B*(1+prefetch); i++ {
				fed = append(fed, feed(i))
			}
			for k, c := range fed {
				select {
				case err := <-c:
					if err != nil {
						t.Fatal(err)
					}
				case <-watchdog:
					t.Fatalf("the loader did not read sample %d (batch %d) while the consumer held batch 0", B+k, (B+k)/B)
				}
			}
			// Batch 1+prefetch must not be started yet: its pipes have no
			// reader (a non-blocking open for writing fails with ENXIO).
			for i := B * (1 + prefetch); i < len(pipes); i++ {
				f, err := os.OpenFile(pipes[i].Path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
				if err == nil {
					t.Errorf("sample %d (batch %d) was opened while the consumer held batch 0: more than %d batches ahead", i, i/B, prefetch)
					if _, err := f.Write(data[i]); err != nil {
						t.Fatal(err)
					}
					f.Close()
					continue
				}
				if !errors.Is(err, syscall.ENXIO) {
					t.Fatal(err)
				}
				feed(i)
			}
		}
		c := *b
		c.Images = append([]float32(nil), b.Images[:b.N*l.p.Size()]...)
		got = append(got, &c)
		l.Release(b)
	}
	if len(got) != len(want) {
		t.Fatalf("%d batches, want %d", len(got), len(want))
	}
	for k := range want {
		if got[k].N != want[k].N || maxAbsDiff(got[k].Images, want[k].Images) != 0 {
			t.Errorf("batch %d differs from the same files read as plain files", k)
		}
	}
}
