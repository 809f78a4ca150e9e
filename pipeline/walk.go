package pipeline

import (
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"
)

// WalkImages yields the images under roots, in argument order, with Label -1.
// A root that is a file is yielded as is, whatever its extension (the user
// named it; decoding will tell whether it is an image). A directory is walked
// recursively, one directory listing at a time, so output starts at once and
// memory stays flat on huge folders. Entries are visited in lexical order,
// sub-directories descended where they sort, and files with an image
// extension (any case) yielded. Hidden entries (starting with '.') and
// symlinked directories (possible cycles) are skipped.
//
// A root that does not exist or a directory that cannot be read is yielded as
// (Sample{Path: p, Label: -1}, err), so Stream reports it as a bad input and
// the walk goes on. Cancelling ctx ends the walk with (Sample{}, ctx error).
func WalkImages(ctx context.Context, roots []string) iter.Seq2[Sample, error] {
	return func(yield func(Sample, error) bool) {
		for _, root := range roots {
			if err := ctx.Err(); err != nil {
				yield(Sample{Label: -1}, fmt.Errorf("walk images: %w", err))
				return
			}
			st, err := os.Stat(root)
			if err != nil {
				if !yield(Sample{Path: root, Label: -1}, err) {
					return
				}
				continue
			}
			if !st.IsDir() {
				if !yield(Sample{Path: root, Label: -1}, nil) {
					return
				}
				continue
			}
			if !walkDir(ctx, root, yield) {
				return
			}
		}
	}
}

// walkDir yields the images under dir; false means stop.
func walkDir(ctx context.Context, dir string, yield func(Sample, error) bool) bool {
	if err := ctx.Err(); err != nil {
		yield(Sample{Label: -1}, fmt.Errorf("walk images: %w", err))
		return false
	}
	ents, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return yield(Sample{Path: dir, Label: -1}, err)
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		p := filepath.Join(dir, name)
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			if st, err := os.Stat(p); err == nil {
				isDir = st.IsDir() // follow links to files; do not descend linked dirs (cycles)
				if isDir {
					continue
				}
			}
		}
		if isDir {
			if !walkDir(ctx, p, yield) {
				return false
			}
			continue
		}
		if IsImageName(name) {
			if !yield(Sample{Path: p, Label: -1}, nil) {
				return false
			}
		}
	}
	return true
}
