package tfgraph

/*
#cgo LDFLAGS: -ltensorflow
#include <stdlib.h>
#include "tensorflow/c/c_api.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/tlearn/tlearn/internal/cluster"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// ClusterJob is the TensorFlow job name of every tlearn task: the tasks are
// peers (TF_CONFIG's "worker" job), task 0 being the chief.
const ClusterJob = "worker"

// Cluster is a data-parallel cluster as this process sees it: the address
// (host:port) of every task, and which of them this process is.
type Cluster struct {
	Workers []string // host:port of task 0, 1, ...
	Task    int      // this process's index in Workers
	// CPUs is the number of CPU devices this task's server creates
	// (CPU:0…CPU:CPUs-1; 0 or 1: one): virtual CPUs for data-parallel
	// replicas within the task (Config.Devices cpu:0,cpu:1,…). A server's
	// devices are fixed when it starts, so they are set here rather than in
	// a session's config.
	CPUs int
}

// Size is the number of tasks.
func (c Cluster) Size() int { return len(c.Workers) }

// Device is the full name of device (e.g. "CPU:0") of task i, where that
// task's ops are placed.
func (c Cluster) Device(i int, device string) string {
	return fmt.Sprintf("/job:%s/replica:0/task:%d/device:%s", ClusterJob, i, device)
}

// Leader is the collective group leader: task 0's CPU resolves the groups
// and instances of every collective op.
func (c Cluster) Leader() string { return fmt.Sprintf("/job:%s/replica:0/task:0", ClusterJob) }

// Validate checks the addresses and the task index (cluster.Spec's rules).
func (c Cluster) Validate() error {
	if err := (cluster.Spec{Workers: c.Workers, Task: c.Task}).Validate(); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// sessionConfig is the ConfigProto shared by the server's default sessions
// and the sessions tlearn opens on it: the collective group leader, and a
// device filter of this task alone. Every tlearn graph runs on its own
// task's devices and reaches the others only through collectives, whose
// timeouts bound a lost task. Without the filter, each new session asks
// every task for its devices first, with an RPC that waits for a dead task
// forever.
func (c Cluster) sessionConfig() *pb.ConfigProto {
	cp := &pb.ConfigProto{
		DeviceFilters: []string{fmt.Sprintf("/job:%s/replica:0/task:%d", ClusterJob, c.Task)},
		Experimental:  &pb.ConfigProto_Experimental{CollectiveGroupLeader: c.Leader()},
	}
	if c.CPUs > 1 {
		cp.DeviceCount = map[string]int32{"CPU": int32(c.CPUs)}
	}
	return cp
}

// Server is this task's in-process TensorFlow gRPC server (TF_NewServer):
// the other tasks reach this task's devices through it, and this task's
// sessions run on it (Target).
//
// TensorFlow cannot shut a started gRPC server down (TF_ServerStop answers
// Unimplemented, and TF_DeleteServer of a started server aborts the
// process), so a Server lives until its process exits: tlearn starts at
// most one per process, and processes that start one end by themselves.
type Server struct {
	c       *C.TF_Server
	target  string
	cluster Cluster
	// instance is the last collective instance key handed out: the tasks
	// build the same collectives in the same order, so their keys agree.
	// Not safe for concurrent graph building.
	instance int32
}

// StartServer starts the gRPC server of c's own task, listening on the port
// of its address. A port already in use is a clear error (before TensorFlow
// tries to bind it).
func StartServer(c Cluster) (*Server, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	addr := c.Workers[c.Task]
	_, port, _ := net.SplitHostPort(addr)
	// TensorFlow binds every interface on the task's port: check that the
	// port is free the same way, so that "in use" is reported as such.
	l, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return nil, fmt.Errorf("start server of task %d (%s): port %s is not free: %w", c.Task, addr, port, err)
	}
	l.Close()

	tasks := map[int32]string{}
	for i, w := range c.Workers {
		tasks[int32(i)] = w
	}
	def := &pb.ServerDef{
		Cluster:              &pb.ClusterDef{Job: []*pb.JobDef{{Name: ClusterJob, Tasks: tasks}}},
		JobName:              ClusterJob,
		TaskIndex:            int32(c.Task),
		Protocol:             "grpc",
		DefaultSessionConfig: c.sessionConfig(),
	}
	b, err := proto.Marshal(def)
	if err != nil {
		return nil, fmt.Errorf("start server of task %d: ServerDef: %w", c.Task, err)
	}
	st := C.TF_NewStatus()
	defer C.TF_DeleteStatus(st)
	cb := C.CBytes(b)
	defer C.free(cb)
	srv := C.TF_NewServer(cb, C.size_t(len(b)), st)
	if err := statusErr(fmt.Sprintf("start server of task %d (%s)", c.Task, addr), st); err != nil {
		if srv != nil {
			C.TF_DeleteServer(srv) // not started: deleting is safe
		}
		return nil, err
	}
	C.TF_ServerStart(srv, st)
	if err := statusErr(fmt.Sprintf("start server of task %d (%s)", c.Task, addr), st); err != nil {
		return nil, err // a half-started server is left alone (see Server)
	}
	return &Server{c: srv, target: C.GoString(C.TF_ServerTarget(srv)), cluster: c}, nil
}

// Target is the session target of this server ("grpc://localhost:port").
func (s *Server) Target() string { return s.target }

// Cluster is the cluster the server was started for.
func (s *Server) Cluster() Cluster { return s.cluster }

// Stop asks TensorFlow to stop the server. TensorFlow's gRPC server does not
// implement a clean shutdown: that answer is not an error here, the server
// simply keeps serving until the process exits.
func (s *Server) Stop() error {
	st := C.TF_NewStatus()
	defer C.TF_DeleteStatus(st)
	C.TF_ServerStop(s.c, st)
	err := statusErr("stop server", st)
	var te *TFError
	if errors.As(err, &te) && te.Code == "Unimplemented" {
		return nil
	}
	return err
}

// unreachable returns the tasks other than self whose servers do not accept
// a TCP connection now: after a collective failed, they are the ones lost.
func (c Cluster) unreachable(dial func(addr string) error) []int {
	var out []int
	for i, w := range c.Workers {
		if i == c.Task {
			continue
		}
		if dial(w) != nil {
			out = append(out, i)
		}
	}
	return out
}

func describeTasks(c Cluster, tasks []int) string {
	parts := make([]string, len(tasks))
	for k, i := range tasks {
		parts[k] = fmt.Sprintf("task %d (%s)", i, c.Workers[i])
	}
	return strings.Join(parts, ", ")
}
