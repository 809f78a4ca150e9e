package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

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

func newPredictionWriter(w io.Writer, format string) (predictionWriter, error) {
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
		return &tableWriter{w: w}, nil
	}
	return nil, usageError{fmt.Errorf("--format must be jsonl, csv or table (got %q)", format)}
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
// tabwriter would hold rows back to align them); long paths widen the column
// for the rows after them.
type tableWriter struct {
	w     io.Writer
	width int
}

func (t *tableWriter) Write(p infer.Prediction) error {
	if t.width == 0 {
		t.width = 40
		fmt.Fprintf(t.w, "%-*s  %-12s %6s  %s\n", t.width, "PATH", "TOP-1", "PROB", "NEXT")
	}
	t.width = max(t.width, len(p.Path))
	var err error
	if p.Error != "" {
		_, err = fmt.Fprintf(t.w, "%-*s  %-12s %6s  %s\n", t.width, p.Path, "ERROR", "", p.Error)
	} else if len(p.Predictions) > 0 {
		top := p.Predictions[0]
		others := ""
		for _, o := range p.Predictions[1:] {
			others += fmt.Sprintf("%s %.3f  ", o.Label, o.Probability)
		}
		_, err = fmt.Fprintf(t.w, "%-*s  %-12s %6.3f  %s\n", t.width, p.Path, top.Label, top.Probability, strings.TrimSpace(others))
	}
	return err
}
func (t *tableWriter) Close() error { return nil }
