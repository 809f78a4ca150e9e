package main

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"
	"gopkg.in/yaml.v3"
)

// configSections are the objects of a RUN_DIR's config.json whose keys are
// flags (config.json's "train": {"lr": …}, "preprocess": {"style": …}), so
// that a run's config.json can be given back as --config.
var configSections = map[string]bool{"train": true, "preprocess": true}

// configRecords are config.json keys that describe a run rather than set a
// flag (counts, versions, the class list, the norm that follows from the arch):
// --config skips them.
var configRecords = map[string]bool{
	"format": true, "classes": true, "created": true, "versions": true, "means": true, "norm": true, "resize": true,
	"margin-pixels": true, "train-images": true, "val-images": true, "steps-per-epoch": true, "total-steps": true,
	"warmup-total-steps": true, "step-every-steps": true, "head-steps": true, "from-scratch": true,
}

// configAliases maps config.json's own names that differ from the flag's.
var configAliases = map[string]string{"style": "preprocess"}

// loadConfigFile reads --config FILE (YAML or JSON) for the flags of one
// command. Keys are flag names, with '-' or '_' (config.json's spelling),
// at the top level or inside config.json's "train" and "preprocess" objects.
// Numbers are numbers: an integer is a valid float (momentum: 0), an
// integral float a valid integer, a number a duration in seconds. An unknown
// key is an error naming the nearest flag, never silently ignored.
func loadConfigFile(path string, flags []cli.Flag) (altsrc.InputSourceContext, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("--config %s: not YAML or JSON: %w", path, err)
	}
	byName := map[string]cli.Flag{}
	var names []string
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != "config" && n != "help" && n != "h" {
				byName[n] = f
				names = append(names, n)
			}
		}
	}
	values := map[any]any{}
	var walk func(section string, m map[string]any) error
	walk = func(section string, m map[string]any) error {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := m[k]
			key := strings.ReplaceAll(k, "_", "-")
			if sub, ok := v.(map[string]any); ok && section == "" && configSections[key] {
				if err := walk(key, sub); err != nil {
					return err
				}
				continue
			}
			if configRecords[key] || v == nil {
				continue
			}
			if a, ok := configAliases[key]; ok && section != "" {
				key = a
			}
			f, ok := byName[key]
			if !ok {
				return fmt.Errorf("--config %s: unknown key %q; did you mean %q?", path, k, nearest(key, names))
			}
			cv, err := configValue(f, v)
			if err != nil {
				return fmt.Errorf("--config %s: key %q: %w", path, k, err)
			}
			values[key] = cv
		}
		return nil
	}
	if err := walk("", doc); err != nil {
		return nil, err
	}
	return altsrc.NewMapInputSource(path, values), nil
}

// configValue converts a YAML/JSON value to the type f's input source reads.
func configValue(f cli.Flag, v any) (any, error) {
	num, isNum := asFloat(v)
	switch f.(type) {
	case *altsrc.Float64Flag:
		if !isNum {
			return nil, fmt.Errorf("want a number, got %v", v)
		}
		return num, nil
	case *altsrc.IntFlag, *altsrc.Int64Flag:
		if !isNum || num != math.Trunc(num) || math.Abs(num) > 1<<53 {
			return nil, fmt.Errorf("want an integer, got %v", v)
		}
		return int(num), nil
	case *altsrc.DurationFlag:
		if isNum {
			return time.Duration(num * float64(time.Second)), nil
		}
		if s, ok := v.(string); ok {
			if _, err := time.ParseDuration(s); err == nil {
				return s, nil
			}
		}
		return nil, fmt.Errorf("want a duration such as 600s or 10m (or a number of seconds), got %v", v)
	case *altsrc.BoolFlag:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("want true or false, got %v", v)
	default: // strings
		switch v.(type) {
		case string, int, float64, bool:
			return fmt.Sprint(v), nil
		}
		return nil, fmt.Errorf("want a string, got %v", v)
	}
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// nearest returns the name closest to key by edit distance.
func nearest(key string, names []string) string {
	best, bestD := "", math.MaxInt
	for _, n := range names {
		if d := editDistance(key, n); d < bestD || d == bestD && n < best {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
