package main

import (
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"
)

// Every flag also reads TLEARN_<FLAG> from the environment and the same key
// (the flag's name) from --config FILE (YAML or JSON). Precedence: an explicit
// flag, then the environment, then the config file, then the default.

func envName(flag string) []string {
	return []string{"TLEARN_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
}

func strFlag(name, value, usage string) cli.Flag {
	return altsrc.NewStringFlag(&cli.StringFlag{Name: name, Value: value, Usage: usage, EnvVars: envName(name)})
}

func intFlag(name string, value int, usage string) cli.Flag {
	return altsrc.NewIntFlag(&cli.IntFlag{Name: name, Value: value, Usage: usage, EnvVars: envName(name)})
}

func int64Flag(name string, value int64, usage string) cli.Flag {
	return altsrc.NewInt64Flag(&cli.Int64Flag{Name: name, Value: value, Usage: usage, EnvVars: envName(name)})
}

func floatFlag(name string, value float64, usage string) cli.Flag {
	return altsrc.NewFloat64Flag(&cli.Float64Flag{Name: name, Value: value, Usage: usage, EnvVars: envName(name)})
}

func boolFlag(name string, usage string) cli.Flag {
	return altsrc.NewBoolFlag(&cli.BoolFlag{Name: name, Usage: usage, EnvVars: envName(name)})
}

func durationFlag(name string, d time.Duration, usage string) cli.Flag {
	return altsrc.NewDurationFlag(&cli.DurationFlag{Name: name, Value: d, Usage: usage + " (e.g. 600s, 10m)", EnvVars: envName(name)})
}

func configFlag() cli.Flag {
	return &cli.PathFlag{Name: "config", Usage: "read flag values from a YAML or JSON `FILE`: keys are flag names with - or _ (lr: 0.001, weight_decay: 0), or a RUN_DIR's config.json; an unknown key is an error; explicit flags and TLEARN_* variables win", EnvVars: envName("config")}
}

// withConfig makes a command read --config before its action runs.
func withConfig(cmd *cli.Command) *cli.Command {
	cmd.Flags = append(cmd.Flags, configFlag())
	load := altsrc.InitInputSourceWithContext(cmd.Flags, func(c *cli.Context) (altsrc.InputSourceContext, error) {
		if c.String("config") == "" {
			return &altsrc.MapInputSource{}, nil
		}
		return loadConfigFile(c.String("config"), cmd.Flags)
	})
	cmd.Before = func(c *cli.Context) error {
		if err := load(c); err != nil {
			return usageError{err}
		}
		return nil
	}
	return cmd
}
