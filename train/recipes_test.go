package train

import (
	"errors"
	"reflect"
	"testing"
)

// TestApplyRecipe: modern sets its settings over the defaults except those
// given explicitly; classic changes nothing; an unknown name is a usage
// error naming the valid ones.
func TestApplyRecipe(t *testing.T) {
	o := DefaultOptions()
	o.WeightDecay = 0.01 // as given on the command line
	if err := ApplyRecipe("modern", &o, func(flag string) bool { return flag == "weight-decay" }); err != nil {
		t.Fatal(err)
	}
	if o.Recipe != "modern" || o.Optimizer != "adamw" || o.LabelSmoothing != 0.1 || o.WeightDecay != 0.01 {
		t.Errorf("modern with --weight-decay 0.01: recipe %q optimizer %q label smoothing %v weight decay %v",
			o.Recipe, o.Optimizer, o.LabelSmoothing, o.WeightDecay)
	}
	c := DefaultOptions()
	if err := ApplyRecipe("classic", &c, func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, DefaultOptions()) {
		t.Error("classic changed the defaults")
	}
	var ue *UsageError
	if err := ApplyRecipe("fancy", &c, func(string) bool { return false }); !errors.As(err, &ue) {
		t.Errorf("unknown recipe: %v, want a UsageError", err)
	}
}
