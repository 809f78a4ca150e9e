// Package cluster reads which data-parallel cluster a tlearn process belongs
// to: TensorFlow's TF_CONFIG environment variable, or tlearn's --cluster and
// --task flags. It is pure Go (no TensorFlow): tfgraph starts the servers.
package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// EnvVar is TensorFlow's cluster environment variable.
const EnvVar = "TF_CONFIG"

// Spec is the cluster of one process: every task's host:port and this
// process's index. A zero Spec (no Workers) is a single-process run.
type Spec struct {
	Workers []string
	Task    int
}

// Distributed reports whether the run has a cluster (even of one task).
func (s Spec) Distributed() bool { return len(s.Workers) > 0 }

// Chief reports whether this process is task 0, the one that restores,
// broadcasts and writes the run directory (true for a single-process run).
func (s Spec) Chief() bool { return s.Task == 0 }

// tfConfig is TF_CONFIG's JSON: {"cluster": {"worker": [...]}, "task":
// {"type": "worker", "index": i}}. A "chief" job of one address, as
// MultiWorkerMirroredStrategy allows, is task 0 before the workers.
type tfConfig struct {
	Cluster map[string][]string `json:"cluster"`
	Task    struct {
		Type  string `json:"type"`
		Index *int   `json:"index"`
	} `json:"task"`
}

// ParseTFConfig parses a TF_CONFIG value ("" is no cluster).
func ParseTFConfig(v string) (Spec, error) {
	if strings.TrimSpace(v) == "" {
		return Spec{}, nil
	}
	var c tfConfig
	dec := json.NewDecoder(bytes.NewReader([]byte(v)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Spec{}, fmt.Errorf("%s: not the JSON {\"cluster\": {\"worker\": [\"host:port\", ...]}, \"task\": {\"type\": \"worker\", \"index\": i}}: %w", EnvVar, err)
	}
	if dec.More() {
		return Spec{}, fmt.Errorf("%s: text after the JSON object", EnvVar)
	}
	for job := range c.Cluster {
		if job != "worker" && job != "chief" {
			return Spec{}, fmt.Errorf("%s: job %q: tlearn's tasks are peers, only the \"worker\" job (and an optional \"chief\") is supported", EnvVar, job)
		}
	}
	chief := c.Cluster["chief"]
	if len(chief) > 1 {
		return Spec{}, fmt.Errorf("%s: the chief job has %d addresses, at most 1", EnvVar, len(chief))
	}
	workers := append(slices.Clone(chief), c.Cluster["worker"]...)
	if len(workers) == 0 {
		return Spec{}, fmt.Errorf("%s: cluster has no \"worker\" addresses", EnvVar)
	}
	if c.Task.Index == nil {
		return Spec{}, fmt.Errorf("%s: task.index missing", EnvVar)
	}
	i := *c.Task.Index
	var task int
	switch c.Task.Type {
	case "worker":
		if i < 0 || i >= len(c.Cluster["worker"]) {
			return Spec{}, fmt.Errorf("%s: task index %d out of range: the worker job has %d addresses", EnvVar, i, len(c.Cluster["worker"]))
		}
		task = i + len(chief)
	case "chief":
		if len(chief) == 0 || i != 0 {
			return Spec{}, fmt.Errorf("%s: task chief %d: the cluster has %d chief addresses", EnvVar, i, len(chief))
		}
		task = 0
	default:
		return Spec{}, fmt.Errorf("%s: task type %q: want \"worker\" (or \"chief\")", EnvVar, c.Task.Type)
	}
	s := Spec{Workers: workers, Task: task}
	if err := s.Validate(); err != nil {
		return Spec{}, fmt.Errorf("%s: %w", EnvVar, err)
	}
	return s, nil
}

// ParseFlags reads --cluster host:port,... and --task i (taskSet: --task
// was given). Neither given is no cluster.
func ParseFlags(cluster string, task int, taskSet bool) (Spec, error) {
	if cluster == "" {
		if taskSet {
			return Spec{}, fmt.Errorf("--task %d without --cluster", task)
		}
		return Spec{}, nil
	}
	if !taskSet {
		return Spec{}, fmt.Errorf("--cluster needs --task (this process's index, 0 for the chief)")
	}
	var workers []string
	for _, w := range strings.Split(cluster, ",") {
		workers = append(workers, strings.TrimSpace(w))
	}
	s := Spec{Workers: workers, Task: task}
	if err := s.Validate(); err != nil {
		return Spec{}, fmt.Errorf("--cluster/--task: %w", err)
	}
	return s, nil
}

// Resolve is the cluster of a process given TF_CONFIG's value and the
// flags. Both may be given only if they agree.
func Resolve(tfConfig, cluster string, task int, taskSet bool) (Spec, error) {
	env, err := ParseTFConfig(tfConfig)
	if err != nil {
		return Spec{}, err
	}
	flags, err := ParseFlags(cluster, task, taskSet)
	if err != nil {
		return Spec{}, err
	}
	switch {
	case !env.Distributed():
		return flags, nil
	case !flags.Distributed():
		return env, nil
	case !slices.Equal(env.Workers, flags.Workers):
		return Spec{}, fmt.Errorf("%s's workers %s and --cluster %s differ: give one of them", EnvVar, strings.Join(env.Workers, ","), strings.Join(flags.Workers, ","))
	case env.Task != flags.Task:
		return Spec{}, fmt.Errorf("%s's task %d and --task %d differ: give one of them", EnvVar, env.Task, flags.Task)
	}
	return env, nil
}

// Validate checks the addresses (host:port with a numeric port, all
// different) and the task index.
func (s Spec) Validate() error {
	if len(s.Workers) == 0 {
		return fmt.Errorf("no worker addresses")
	}
	seen := map[string]int{}
	for i, w := range s.Workers {
		host, port, err := net.SplitHostPort(w)
		if err != nil || host == "" {
			return fmt.Errorf("worker %d address %q: want host:port", i, w)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("worker %d address %q: port %q is not a number in 1..65535", i, w, port)
		}
		if j, dup := seen[w]; dup {
			return fmt.Errorf("workers %d and %d have the same address %s", j, i, w)
		}
		seen[w] = i
	}
	if s.Task < 0 || s.Task >= len(s.Workers) {
		return fmt.Errorf("task index %d out of range: %d workers (0..%d)", s.Task, len(s.Workers), len(s.Workers)-1)
	}
	return nil
}
