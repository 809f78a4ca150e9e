package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/tlearn/tlearn/export"
)

func exportCommand() *cli.Command {
	return withConfig(&cli.Command{
		Name:  "export",
		Usage: "write a trained run as a TensorFlow SavedModel for serving",
		Description: `Writes --out as a SavedModel (saved_model.pb, variables/, assets/classes.txt)
with two signatures: serving_default takes encoded image bytes (string [N]) and does
decode, central crop, resize and normalisation inside the graph, giving the pixels
tlearn's own decoder gives (JPEG incl. CMYK and EXIF orientation, PNG incl. 16-bit,
palette and transparency composited onto white, GIF, BMP; WebP is refused with
an error, see docs/export.md); serving_float takes
preprocessed float32 [N,H,W,3] (RGB 0..255 minus the VGG means). Both return class
probabilities [N,C] and top-1 class indices. Loads in TensorFlow Serving, Python
(tf.saved_model.load) and tlearn predict --model DIR (--signature bytes runs
serving_default on the files' bytes, as a serving client would).

Example:
  tlearn export --model runs/dishes --out export/dishes/1`,
		Flags: []cli.Flag{
			strFlag("model", "", "the trained RUN_`DIR` (required)"),
			strFlag("out", "", "SavedModel `DIR` to create; must not exist or be empty (required)"),
		},
		Action: func(c *cli.Context) error {
			if c.String("model") == "" || c.String("out") == "" {
				return usageError{fmt.Errorf("export needs --model RUN_DIR and --out DIR")}
			}
			if err := export.SavedModel(c.Context, c.String("model"), c.String("out")); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "exported %s to %s (signatures: serving_default, serving_float)\n", c.String("model"), c.String("out"))
			return nil
		},
	})
}
