package train

import (
	"fmt"
	"strings"
)

// A Recipe is a named set of training settings over DefaultOptions:
// --recipe NAME applies them, and a flag given explicitly overrides its
// setting. The measurements behind each are in bench/NOTES.md ("Fine-tuning
// recipes").
type Recipe struct {
	Name, Doc string
	Settings  []RecipeSetting
}

// RecipeSetting is one setting of a recipe: the flag it stands for (so an
// explicit flag wins) and how it changes Options.
type RecipeSetting struct {
	Flag  string
	Apply func(*Options)
}

// recipes is the table of --recipe values; the first is the default.
var recipes = []Recipe{
	{Name: "classic", Doc: "TF-Slim's fine-tuning recipe: momentum SGD, polynomial decay, L2 weight decay (the defaults as they are)"},
	{Name: "modern", Doc: "AdamW (decoupled weight decay 0.05) with label smoothing 0.1: the best combination measured on real images",
		Settings: []RecipeSetting{
			{"optimizer", func(o *Options) { o.Optimizer = "adamw" }},
			{"weight-decay", func(o *Options) { o.WeightDecay = 0.05 }},
			{"label-smoothing", func(o *Options) { o.LabelSmoothing = 0.1 }},
		}},
}

// RecipeNames returns the --recipe values, the default first.
func RecipeNames() []string {
	names := make([]string, len(recipes))
	for i, r := range recipes {
		names[i] = r.Name
	}
	return names
}

// RecipeHelp describes every recipe and its settings, for --help.
func RecipeHelp() string {
	var parts []string
	for _, r := range recipes {
		var flags []string
		for _, s := range r.Settings {
			flags = append(flags, "--"+s.Flag)
		}
		p := r.Name + " (" + r.Doc
		if len(flags) > 0 {
			p += "; sets " + strings.Join(flags, ", ")
		}
		parts = append(parts, p+")")
	}
	return strings.Join(parts, "; ")
}

// ApplyRecipe sets o.Recipe and applies the recipe's settings whose flag
// given does not report as set explicitly.
func ApplyRecipe(name string, o *Options, given func(flag string) bool) error {
	for _, r := range recipes {
		if r.Name == name {
			o.Recipe = name
			for _, s := range r.Settings {
				if !given(s.Flag) {
					s.Apply(o)
				}
			}
			return nil
		}
	}
	return usage(fmt.Sprintf("--recipe must be one of %s (got %q)", strings.Join(RecipeNames(), ", "), name))
}
