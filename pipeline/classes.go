package pipeline

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/tlearn/tlearn/internal/atomicfile"
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
	return atomicfile.Write(path, buf.Bytes(), 0o644)
}
