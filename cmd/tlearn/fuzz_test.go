package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/urfave/cli/v2"
)

// FuzzConfigFile loads arbitrary bytes as a --config file (YAML or JSON)
// for every flag of train: it must fail with an error or give values, never
// panic. Seeds: testdata/fuzz/FuzzConfigFile and the cases below.
func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{
		"batch: 4\nepochs: 99\narch: vgg_mini\ninput-size: 32\nlr: 0.02\n",
		`{"batch": 4, "lr": 1e-3, "save-every": "10m", "seed": -1}`,
		"save-every: 600\n",
		"batch: [1, 2]\n",
		"lr: .nan\nmomentum: .inf\n",
		"steps: 99999999999999999999999\n",
		"? [a]\n: b\n",
		"a: &x [*x]\n",
		"\t- no\n",
		"",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "cfg.yaml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := trainCommand()
		cmd.Action = func(c *cli.Context) error {
			// Read every flag as train's action does.
			for _, fl := range cmd.Flags {
				for _, n := range fl.Names() {
					_ = c.Value(n)
				}
			}
			return nil
		}
		app := newApp(io.Discard, io.Discard)
		app.Commands = []*cli.Command{cmd}
		_ = app.RunContext(context.Background(), []string{"tlearn", "train", "--config", path})
	})
}
