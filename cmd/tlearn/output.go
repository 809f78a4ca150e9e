package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/tlearn/tlearn/infer"
)

// stdoutIsTerminal picks human output for people and machine output for pipes.
func stdoutIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
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
		return &tableWriter{w: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}, nil
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

type tableWriter struct {
	w      *tabwriter.Writer
	header bool
}

func (t *tableWriter) Write(p infer.Prediction) error {
	if !t.header {
		fmt.Fprintln(t.w, "PATH\tTOP-1\tPROB\tOTHERS")
		t.header = true
	}
	if p.Error != "" {
		fmt.Fprintf(t.w, "%s\tERROR\t\t%s\n", p.Path, p.Error)
	} else if len(p.Predictions) > 0 {
		top := p.Predictions[0]
		others := ""
		for _, o := range p.Predictions[1:] {
			others += fmt.Sprintf("%s %.3f  ", o.Label, o.Probability)
		}
		fmt.Fprintf(t.w, "%s\t%s\t%.3f\t%s\n", p.Path, top.Label, top.Probability, others)
	}
	return t.w.Flush()
}
func (t *tableWriter) Close() error { return t.w.Flush() }
