package pipeline

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ReadClasses reads a class list: one name per line, index = line number
// (0-based). Surrounding whitespace and a trailing CR are removed; blank lines
// are skipped. It fails on a missing file, an empty list or a duplicate name.
func ReadClasses(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read class list: %w", err)
	}
	classes, err := parseClasses(data)
	if err != nil {
		return nil, fmt.Errorf("class list %s: %w", path, err)
	}
	return classes, nil
}

func parseClasses(data []byte) ([]string, error) {
	var classes []string
	seen := map[string]int{}
	for i, line := range strings.Split(string(data), "\n") {
		name := strings.TrimSpace(line)
		if name == "" {
			continue
		}
		if prev, ok := seen[name]; ok {
			return nil, fmt.Errorf("line %d: class %q already on line %d; class names must be unique", i+1, name, prev)
		}
		seen[name] = i + 1
		classes = append(classes, name)
	}
	if len(classes) == 0 {
		return nil, fmt.Errorf("no class names (expected one per line)")
	}
	return classes, nil
}

// WriteClasses writes classes one per line, atomically: a temporary file in
// the same directory is written, synced and renamed over path, so a reader
// never sees a partial list. Names containing a newline are refused.
func WriteClasses(path string, classes []string) error {
	var buf bytes.Buffer
	for _, c := range classes {
		if strings.ContainsAny(c, "\r\n") || strings.TrimSpace(c) != c || c == "" {
			return fmt.Errorf("write class list %s: class name %q is empty, has surrounding spaces or a newline", path, c)
		}
		buf.WriteString(c)
		buf.WriteByte('\n')
	}
	return writeFileAtomic(path, buf.Bytes(), 0o644)
}

// writeFileAtomic writes data to path via temp file + fsync + rename + dir
// fsync.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // best effort: makes the rename durable on Linux
		d.Close()
	}
	return nil
}
