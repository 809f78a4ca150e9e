package cluster

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestParseTFConfig(t *testing.T) {
	for _, tc := range []struct {
		name, v string
		want    Spec
		err     string
	}{
		{"empty", "", Spec{}, ""},
		{"worker 1", `{"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}, "task": {"type": "worker", "index": 1}}`,
			Spec{Workers: []string{"127.0.0.1:2222", "127.0.0.1:2223"}, Task: 1}, ""},
		{"chief first", `{"cluster": {"chief": ["c:1"], "worker": ["w:1", "w:2"]}, "task": {"type": "worker", "index": 0}}`,
			Spec{Workers: []string{"c:1", "w:1", "w:2"}, Task: 1}, ""},
		{"chief task", `{"cluster": {"chief": ["c:1"], "worker": ["w:1"]}, "task": {"type": "chief", "index": 0}}`,
			Spec{Workers: []string{"c:1", "w:1"}, Task: 0}, ""},
		{"not json", `{"cluster": `, Spec{}, "TF_CONFIG: not the JSON"},
		{"trailing", `{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}} x`, Spec{}, "text after"},
		{"unknown field", `{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}, "rpc_layer": "grpc"}`, Spec{}, "unknown field"},
		{"ps job", `{"cluster": {"worker": ["a:1"], "ps": ["p:1"]}, "task": {"type": "worker", "index": 0}}`, Spec{}, `job "ps"`},
		{"no workers", `{"cluster": {}, "task": {"type": "worker", "index": 0}}`, Spec{}, "no \"worker\" addresses"},
		{"no index", `{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker"}}`, Spec{}, "task.index missing"},
		{"index out of range", `{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}`, Spec{}, "task index 2 out of range: the worker job has 2"},
		{"negative", `{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": -1}}`, Spec{}, "out of range"},
		{"bad type", `{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}`, Spec{}, `task type "ps"`},
		{"bad address", `{"cluster": {"worker": ["a:1", "b"]}, "task": {"type": "worker", "index": 0}}`, Spec{}, `worker 1 address "b"`},
		{"bad port", `{"cluster": {"worker": ["a:x"]}, "task": {"type": "worker", "index": 0}}`, Spec{}, `port "x"`},
		{"duplicate", `{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", "index": 0}}`, Spec{}, "same address a:1"},
		{"two chiefs", `{"cluster": {"chief": ["a:1", "b:1"]}, "task": {"type": "chief", "index": 0}}`, Spec{}, "at most 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTFConfig(tc.v)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, %v; want error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got.Workers, tc.want.Workers) || got.Task != tc.want.Task {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	env := `{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}`
	for _, tc := range []struct {
		name, env, cluster string
		task               int
		taskSet            bool
		want               Spec
		err                string
	}{
		{"nothing", "", "", 0, false, Spec{}, ""},
		{"flags", "", "a:1, b:1", 0, true, Spec{Workers: []string{"a:1", "b:1"}}, ""},
		{"env", env, "", 0, false, Spec{Workers: []string{"a:1", "b:1"}, Task: 1}, ""},
		{"both agree", env, "a:1,b:1", 1, true, Spec{Workers: []string{"a:1", "b:1"}, Task: 1}, ""},
		{"task without cluster", "", "", 1, true, Spec{}, "--task 1 without --cluster"},
		{"cluster without task", "", "a:1,b:1", 0, false, Spec{}, "--cluster needs --task"},
		{"flag task out of range", "", "a:1,b:1", 2, true, Spec{}, "task index 2 out of range"},
		{"both differ in workers", env, "a:1,c:1", 1, true, Spec{}, "TF_CONFIG's workers a:1,b:1 and --cluster a:1,c:1 differ"},
		{"both differ in task", env, "a:1,b:1", 0, true, Spec{}, "TF_CONFIG's task 1 and --task 0 differ"},
		{"bad env beats flags", "{", "a:1", 0, true, Spec{}, "TF_CONFIG"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(tc.env, tc.cluster, tc.task, tc.taskSet)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, %v; want error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got.Workers, tc.want.Workers) || got.Task != tc.want.Task {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// FuzzParseTFConfig: any value is parsed or refused without panicking, and
// an accepted one is a valid cluster that round-trips through TF_CONFIG's
// own JSON.
func FuzzParseTFConfig(f *testing.F) {
	f.Add(`{"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}, "task": {"type": "worker", "index": 1}}`)
	f.Add(`{"cluster": {"chief": ["c:1"], "worker": ["w:1"]}, "task": {"type": "chief", "index": 0}}`)
	f.Add(`{"cluster": {"worker": []}, "task": {"index": 99999999999999999999}}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, v string) {
		s, err := ParseTFConfig(v)
		if err != nil {
			if !strings.Contains(err.Error(), EnvVar) {
				t.Fatalf("error does not say it is %s: %v", EnvVar, err)
			}
			return
		}
		if !s.Distributed() {
			return // blank
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted an invalid cluster %+v: %v", s, err)
		}
		b, _ := json.Marshal(map[string]any{"cluster": map[string][]string{"worker": s.Workers}, "task": map[string]any{"type": "worker", "index": s.Task}})
		again, err := ParseTFConfig(string(b))
		if err != nil || !slices.Equal(again.Workers, s.Workers) || again.Task != s.Task {
			t.Fatalf("round trip of %+v: %+v, %v", s, again, err)
		}
	})
}
