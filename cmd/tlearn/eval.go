package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/tlearn/tlearn/infer"
	"github.com/tlearn/tlearn/report"
	"github.com/tlearn/tlearn/rundir"
	"github.com/tlearn/tlearn/tfevents"
)

func evalCommand() *cli.Command {
	flags := append(modelFlags(), checkpointFlags("evaluate")...)
	flags = append(flags,
		strFlag("data", "", "dataset `DIR` or list file to evaluate on (required); class names must be the model's"),
		strFlag("layout", "auto", "dataset layout: auto, food101, folders or list"),
		strFlag("out", "", "report `DIR`: also write confusion.csv, confusion.png and (for a RUN_DIR) curves.png"),
		strFlag("format", "", "json or table (default: table on a terminal, json otherwise)"),
		intFlag("batch", 64, "images per inference batch"),
	)
	return withConfig(&cli.Command{
		Name:  "eval",
		Usage: "measure top-1/top-5 and per-class precision/recall on a labelled dataset",
		Description: `Evaluates on the test/validation split when the layout defines one (Food-101's
meta/test.txt, or train/ and val/ sub-folders), otherwise on every image.
Exits 3 when some images could not be read (they are counted in "failed").

Examples:
  tlearn eval --model runs/dishes --data photos-test/ --out reports/dishes
  tlearn eval --model export/dishes --signature bytes --data photos-test/   # the SavedModel's own decoding
  tlearn eval --arch resnet_v2_50 --weights resnet_v2_50.ckpt --labels imagenet.txt --data imagenet-val/   # a published checkpoint`,
		Flags: flags,
		Action: func(c *cli.Context) error {
			if c.String("data") == "" {
				return usageError{fmt.Errorf("--data is required")}
			}
			format := outputFormat(c, "json")
			if format != "json" && format != "table" {
				return usageError{fmt.Errorf("--format must be json or table (got %q)", format)}
			}
			fullScale, err := fullScaleJPEG(c)
			if err != nil {
				return err
			}
			clf, err := openModel(c)
			if err != nil {
				return err
			}
			defer clf.Close()
			r, err := infer.Evaluate(c.Context, clf, c.String("data"), infer.EvalOptions{Layout: c.String("layout"), Batch: c.Int("batch"), Workers: c.Int("workers"), FullScaleJPEG: fullScale})
			var ue *infer.UsageError
			if errors.As(err, &ue) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			if out := c.String("out"); out != "" {
				if err := writeEvalReport(out, c.String("model"), r); err != nil {
					return err
				}
			}
			if format == "json" {
				err = json.NewEncoder(c.App.Writer).Encode(r)
			} else {
				err = printEvalTable(c.App.Writer, r)
			}
			if err != nil {
				return err
			}
			for _, b := range r.BadFiles {
				fmt.Fprintf(c.App.ErrWriter, "unreadable: %s: %s\n", b.Path, b.Reason)
			}
			if r.Failed > 0 {
				return exitCodeError{code: exitSomeFailed, err: fmt.Errorf("%d images could not be read", r.Failed)}
			}
			return nil
		},
	})
}

func writeEvalReport(dir, model string, r *infer.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report folder: %w", err)
	}
	if err := report.WriteConfusionCSV(filepath.Join(dir, "confusion.csv"), r.Classes, r.Confusion); err != nil {
		return err
	}
	title := fmt.Sprintf("%s — top-1 %.3f on %d images", filepath.Base(filepath.Clean(model)), r.Top1, r.N)
	if err := report.WriteConfusionPNG(filepath.Join(dir, "confusion.png"), r.Classes, r.Confusion, title); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if model != "" && rundir.Exists(model) {
		scalars, err := tfevents.ReadDir(model)
		if err != nil {
			return fmt.Errorf("read training curves from %s: %w", model, err)
		}
		if len(scalars) > 0 {
			return report.WriteCurvesPNG(filepath.Join(dir, "curves.png"), scalars, filepath.Base(filepath.Clean(model)))
		}
	}
	return nil
}

func printEvalTable(w io.Writer, r *infer.Report) error {
	fmt.Fprintf(w, "images %d (%s), failed %d\ntop-1  %.4f\ntop-5  %.4f\n\n", r.N, r.Split, r.Failed, r.Top1, r.Top5)
	rows := [][]string{{"CLASS", "N", "PRECISION", "RECALL"}}
	names := make([]string, 0, len(r.PerClass))
	for n := range r.PerClass {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := r.PerClass[n]
		rows = append(rows, []string{n, strconv.Itoa(s.N), fmt.Sprintf("%.3f", s.Precision), fmt.Sprintf("%.3f", s.Recall)})
	}
	return writeAligned(w, rows, []bool{false, true, true, true})
}
