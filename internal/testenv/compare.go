package testenv

import (
	"fmt"
	"math"
)

// WorstRelDiff compares tensors by name: for each of want's, the L2 norm of
// got−want over the L2 norm of want. It returns the largest and its tensor,
// or an error naming a tensor got lacks or holds with another size.
func WorstRelDiff(want, got map[string][]float32) (worst float64, at string, err error) {
	for name, w := range want {
		g, ok := got[name]
		if !ok || len(g) != len(w) {
			return 0, name, fmt.Errorf("%s: %d values, want %d", name, len(g), len(w))
		}
		var num, den float64
		for k := range w {
			d := float64(g[k] - w[k])
			num, den = num+d*d, den+float64(w[k])*float64(w[k])
		}
		if r := math.Sqrt(num / max(den, 1e-30)); r > worst {
			worst, at = r, name
		}
	}
	return worst, at, nil
}
