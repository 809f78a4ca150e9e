package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/rivo/uniseg"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/tlearn/tlearn/infer"
)

// stdoutIsTerminal picks human output for people and machine output for pipes.
func stdoutIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// outputFormat is --format, or by default "table" for a person at a terminal
// and machine for a pipe or file.
func outputFormat(c *cli.Context, machine string) string {
	if f := c.String("format"); f != "" {
		return f
	}
	if stdoutIsTerminal(c.App.Writer) {
		return "table"
	}
	return machine
}

// predictionWriter writes predictions in one of ARCHITECTURE.md's formats.
type predictionWriter interface {
	Write(p infer.Prediction) error
	Close() error
}

// newPredictionWriter writes format to w; labels (the model's classes) size
// the table's label column.
func newPredictionWriter(w io.Writer, format string, labels []string) (predictionWriter, error) {
	switch format {
	case "jsonl":
		return &jsonlWriter{enc: json.NewEncoder(w)}, nil
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write([]string{"path", "rank", "label", "index", "probability", "error"}); err != nil {
			return nil, err
		}
		return &csvWriter{w: cw}, nil
	case "table":
		t := &tableWriter{w: w, labelWidth: displayWidth("TOP-1")}
		for _, l := range labels {
			t.labelWidth = max(t.labelWidth, displayWidth(l))
		}
		return t, nil
	}
	return nil, checkPredictionFormat(format)
}

// checkPredictionFormat refuses an unknown predict --format.
func checkPredictionFormat(format string) error {
	switch format {
	case "jsonl", "csv", "table":
		return nil
	}
	return usageError{fmt.Errorf("--format must be jsonl, csv or table (got %q)", format)}
}

// displayWidth is how many terminal columns s takes: East Asian wide
// characters and emoji take two, combining marks none.
func displayWidth(s string) int { return uniseg.StringWidth(s) }

// padRight pads s with spaces to width terminal columns.
func padRight(s string, width int) string {
	if n := width - displayWidth(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

// padLeft right-aligns s in width terminal columns.
func padLeft(s string, width int) string {
	if n := width - displayWidth(s); n > 0 {
		return strings.Repeat(" ", n) + s
	}
	return s
}

// writeAligned prints rows as columns two spaces apart, padded by display
// width (text/tabwriter counts runes, so double-width names shift the
// columns after them); columns flagged in right are right-aligned.
func writeAligned(w io.Writer, rows [][]string, right []bool) error {
	var widths []int
	for _, r := range rows {
		for i, cell := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], displayWidth(cell))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, cell := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			switch {
			case i < len(right) && right[i]:
				b.WriteString(padLeft(cell, widths[i]))
			case i == len(r)-1:
				b.WriteString(cell) // no trailing blanks
			default:
				b.WriteString(padRight(cell, widths[i]))
			}
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type jsonlWriter struct{ enc *json.Encoder }

func (j *jsonlWriter) Write(p infer.Prediction) error { return j.enc.Encode(p) }
func (j *jsonlWriter) Close() error                   { return nil }

type csvWriter struct{ w *csv.Writer }

func (c *csvWriter) Write(p infer.Prediction) error {
	if p.Error != "" {
		c.w.Write([]string{p.Path, "", "", "", "", p.Error})
	}
	for r, cl := range p.Predictions {
		c.w.Write([]string{p.Path, strconv.Itoa(r + 1), cl.Label, strconv.Itoa(cl.Index), strconv.FormatFloat(cl.Probability, 'g', 6, 64), ""})
	}
	c.w.Flush() // stream: each answer is visible as soon as it is known
	return c.w.Error()
}
func (c *csvWriter) Close() error { c.w.Flush(); return c.w.Error() }

// tableWriter prints one aligned row per answer as soon as it is known (a
// tabwriter would hold rows back to align them). The label column is as wide
// as the model's longest class name, in terminal columns; long paths widen
// the path column for the rows after them. NEXT lists "label (p)" entries
// separated by commas, so labels with spaces stay readable.
type tableWriter struct {
	w          io.Writer
	width      int // path column
	labelWidth int
}

func (t *tableWriter) Write(p infer.Prediction) error {
	if t.width == 0 {
		t.width = 40
		t.row("PATH", "TOP-1", "PROB", "NEXT")
	}
	t.width = max(t.width, displayWidth(p.Path))
	if p.Error != "" {
		return t.row(p.Path, "ERROR", "", p.Error)
	}
	if len(p.Predictions) == 0 {
		return nil
	}
	top := p.Predictions[0]
	others := make([]string, 0, len(p.Predictions)-1)
	for _, o := range p.Predictions[1:] {
		others = append(others, fmt.Sprintf("%s (%.3f)", o.Label, o.Probability))
	}
	return t.row(p.Path, top.Label, fmt.Sprintf("%.3f", top.Probability), strings.Join(others, ", "))
}

func (t *tableWriter) row(path, label, prob, next string) error {
	line := padRight(path, t.width) + "  " + padRight(label, t.labelWidth) + "  " + padLeft(prob, 5)
	if next != "" {
		line += "  " + next
	}
	_, err := fmt.Fprintln(t.w, line)
	return err
}

func (t *tableWriter) Close() error { return nil }
