package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/tlearn/tlearn/pipeline"
	"github.com/tlearn/tlearn/tfgraph"
	"github.com/urfave/cli/v2"
)

// infoReport is the stable JSON shape of `tlearn info --json`.
type infoReport struct {
	Tlearn       string           `json:"tlearn_version"`
	TensorFlow   string           `json:"tensorflow_version"`
	Go           string           `json:"go_version"`
	OS           string           `json:"os"`
	Arch         string           `json:"arch"`
	CPUs         int              `json:"cpus"`
	Devices      []tfgraph.Device `json:"devices"`
	GPUAvailable bool             `json:"gpu_available"`
	JPEGDecoder  string           `json:"jpeg_decoder"`
	// MemoryBytes is the machine's RAM (MemTotal of /proc/meminfo), 0 if unknown.
	MemoryBytes int64 `json:"memory_bytes"`
}

// systemMemory reads MemTotal from /proc/meminfo: TensorFlow reports for the
// CPU device its allocator's limit (a few hundred MB), not the RAM.
func systemMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

func infoCommand() *cli.Command {
	return &cli.Command{
		Name:  "info",
		Usage: "show the libtensorflow version, the devices TensorFlow sees, and the Go version",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print one JSON object with stable keys"}},
		Action: func(c *cli.Context) error {
			devs, err := tfgraph.ListDevices()
			if err != nil {
				return err
			}
			r := infoReport{
				Tlearn: version, TensorFlow: tfgraph.Version(), Go: runtime.Version(),
				OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Devices: devs,
				JPEGDecoder: pipeline.JPEGDecoder(), MemoryBytes: systemMemory(),
			}
			for _, d := range devs {
				if d.Type == "GPU" {
					r.GPUAvailable = true
				}
			}
			w := c.App.Writer
			if c.Bool("json") {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			fmt.Fprintf(w, "tlearn      %s\n", r.Tlearn)
			fmt.Fprintf(w, "TensorFlow  %s (libtensorflow)\n", r.TensorFlow)
			fmt.Fprintf(w, "Go          %s %s/%s, %d CPUs\n", r.Go, r.OS, r.Arch, r.CPUs)
			fmt.Fprintf(w, "JPEG        %s\n", r.JPEGDecoder)
			fmt.Fprintf(w, "Devices:\n")
			for _, d := range devs {
				mem := ""
				switch {
				case d.Type == "CPU" && r.MemoryBytes > 0:
					mem = fmt.Sprintf(" (%.1f GiB RAM)", float64(r.MemoryBytes)/(1<<30))
				case d.Type != "CPU" && d.MemoryBytes > 0:
					mem = fmt.Sprintf(" (%.1f GiB)", float64(d.MemoryBytes)/(1<<30))
				}
				fmt.Fprintf(w, "  %-4s %s%s\n", d.Type, d.Name, mem)
			}
			if !r.GPUAvailable {
				fmt.Fprintf(w, "No GPU: this libtensorflow is a CPU build or no GPU driver is visible.\n")
			}
			return nil
		},
	}
}
