package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

// TestDocsListEveryFlag: docs/cli.md names every flag of every command, so
// the documentation cannot fall behind the code.
func TestDocsListEveryFlag(t *testing.T) {
	b, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	app := newApp(io.Discard, io.Discard)
	for _, f := range app.Flags {
		for _, n := range f.Names() {
			if len(n) > 1 && !strings.Contains(doc, "--"+n) {
				t.Errorf("docs/cli.md lacks the global flag --%s", n)
			}
		}
	}
	for _, c := range app.Commands {
		_, sec, ok := strings.Cut(doc, "\n## tlearn "+c.Name+"\n")
		if !ok {
			t.Errorf("docs/cli.md has no section for %q", c.Name)
			continue
		}
		sec, _, _ = strings.Cut(sec, "\n## ")
		for _, f := range c.Flags {
			for _, n := range f.Names() {
				if len(n) > 1 && !strings.Contains(sec, "--"+n+" ") && !strings.Contains(sec, "--"+n+"\n") {
					t.Errorf("docs/cli.md lacks %s --%s", c.Name, n)
				}
			}
		}
	}
}
