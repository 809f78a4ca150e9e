package tfgraph

import (
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// TestFreeTensors pins the assumption freeTensor makes about graft's Tensor
// (the *C.TF_Tensor is its first field): a wrong layout would make
// TF_TensorByteSize read garbage here instead of crashing a run later.
func TestFreeTensors(t *testing.T) {
	for _, n := range []int{1, 3, 1000} {
		x, err := tf.NewTensor(make([]float32, n))
		if err != nil {
			t.Fatal(err)
		}
		if got := tensorByteSize(x); got != 4*n {
			t.Fatalf("TF_TensorByteSize through cTensor = %d, want %d: graft's Tensor layout changed", got, 4*n)
		}
		freeTensors(map[int]*tf.Tensor{0: x}, nil)
	}
}

// TestSessionOptionsInterOp: on the CPU the inter-op pool defaults to one
// thread (see cpuInterOpThreads); an explicit value is kept.
func TestSessionOptionsInterOp(t *testing.T) {
	if gpuBuild() {
		t.Skip("GPU build of libtensorflow: the default stays TensorFlow's")
	}
	for _, tc := range []struct {
		cfg  Config
		want int32
	}{
		{Config{}, cpuInterOpThreads},
		{Config{Device: "cpu"}, cpuInterOpThreads},
		{Config{InterOpThreads: 3}, 3},
	} {
		o, err := sessionOptions(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		var cp pb.ConfigProto
		if err := proto.Unmarshal(o.Config, &cp); err != nil {
			t.Fatal(err)
		}
		if cp.InterOpParallelismThreads != tc.want {
			t.Errorf("%+v: inter-op threads %d, want %d", tc.cfg, cp.InterOpParallelismThreads, tc.want)
		}
	}
}
