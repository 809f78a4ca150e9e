// Package export turns a trained tlearn run into artefacts others consume.
//
// SavedModel writes a TensorFlow SavedModel for serving (TF Serving, Python
// tf.saved_model.load, saved_model_cli, and tlearn's own predict): the run's
// best (else latest) weights, the class names as an asset, and two
// signatures — "serving_default" on encoded image bytes with the evaluation
// preprocessing inside the graph, and "serving_float" on images the pipeline
// has already preprocessed. See tfgraph.(*Model).ExportSavedModel for the
// format.
package export

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/tlearn/tlearn/rundir"
	"github.com/tlearn/tlearn/tfgraph"
)

// SavedModel exports the model of runDir to outDir as a TensorFlow
// SavedModel. It reads runDir/config.json (architecture, input size,
// classes, preprocessing) and restores the weights of runDir/best/ if it
// holds a checkpoint, else of the latest checkpoint in runDir.
//
// outDir must not exist or be empty; it is assembled beside outDir and
// renamed into place, so on any error nothing is left at outDir. ctx is
// checked between the slow steps (graph building, restore, write).
func SavedModel(ctx context.Context, runDir, outDir string) error {
	cfg, err := rundir.ReadConfig(runDir)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	ckpt, err := checkpoint(runDir)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m, err := tfgraph.NewModel(tfgraph.Config{Arch: cfg.Arch, NumClasses: len(cfg.Classes), InputSize: cfg.InputSize,
		ForInference: true, Device: "cpu", ReadAverages: cfg.Train.EMA > 0, Trainable: cfg.Train.Trainable})
	if err != nil {
		return fmt.Errorf("export: build %s from %s: %w", cfg.Arch, filepath.Join(runDir, rundir.ConfigFile), err)
	}
	defer m.Close()
	// Model weights only (head included): the global step and optimizer
	// slots do not belong in a serving model.
	if err := m.LoadAll(ckpt); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := m.ExportSavedModel(outDir, tfgraph.ExportOptions{Classes: cfg.Classes, Style: cfg.Preprocess.Style}); err != nil {
		return fmt.Errorf("export %s: %w", runDir, err)
	}
	return nil
}

// checkpoint picks runDir/best/'s checkpoint when there is one, else the
// latest in runDir.
func checkpoint(runDir string) (string, error) {
	if p, err := tfgraph.LatestCheckpoint(filepath.Join(runDir, rundir.BestDir)); err == nil {
		return p, nil
	}
	p, err := tfgraph.LatestCheckpoint(runDir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s has no checkpoint yet: train it first (tlearn train --out %s)", runDir, runDir)
	}
	return p, err
}
