package nn_test

import (
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion/nn"
)

// A ResMLP for 2-D data: its parameters live in one flat buffer with named
// views, Linear weights (the decayed ones) first.
func ExampleResMLP() {
	be := nn.NewCPU()
	m, err := nn.InitResMLP(be, nn.ResMLPConfig{Dim: 2, Width: 8, Depth: 1}, 1)
	if err != nil {
		panic(err)
	}
	ps := m.Params()
	fmt.Println("parameters:", ps.Len(), "of which decayed:", ps.DecayLen())
	for _, l := range ps.Layout()[:4] {
		fmt.Println(l.Name, l.Shape, "at", l.Offset)
	}
	fmt.Println("linear layers with saved rows:", len(m.LinearSites()))
	// Output:
	// parameters: 498 of which decayed: 416
	// time1.weight [8 8] at 0
	// time1.bias [8] at 416
	// time2.weight [8 8] at 64
	// time2.bias [8] at 424
	// linear layers with saved rows: 6
}

// The registry picks a backend by name; "auto" falls back to the CPU when no
// GPU backend is registered or usable.
func ExampleNewBackend() {
	be, err := nn.NewBackend("auto")
	if err != nil {
		panic(err)
	}
	x := be.Alloc(3)
	be.Upload(x, []float32{1, 2, 3})
	be.Scale(x, 2)
	out := make([]float32, 3)
	be.Download(out, x)
	fmt.Println(be.Name(), out, be.Dot(x, x))
	_, err = nn.NewBackend("tpu")
	fmt.Println(err)
	// Output:
	// cpu [2 4 6] 56
	// nn: unknown backend "tpu" (have cpu, auto)
}

// The DiT "small" preset on MNIST: each image becomes 49 tokens of 4×4
// pixels. adaLN-Zero starts the network at the zero function, and the
// token-wise layers hand out L = 49 rows per example for per-example
// gradients, the per-example (conditioning) layers one.
func ExampleDiT() {
	cfg, err := nn.DiTPreset("small")
	if err != nil {
		panic(err)
	}
	cfg.Side = 28 // one channel of 28×28
	be := nn.NewCPU()
	net, err := nn.BuildSeeded(be, nn.Spec{Kind: "dit", DiT: &cfg}, 1)
	if err != nil {
		panic(err)
	}
	m := net.(*nn.DiT)
	c := m.Config()
	fmt.Println("tokens:", c.Tokens(), "of", c.PatchDim(), "pixels, width", c.Width, "parameters:", m.Params().Len())

	const B = 2
	x, t, out := be.Alloc(B*m.Dim()), be.Alloc(B), be.Alloc(B*m.Dim())
	be.Fill(x, 0.5)
	be.Upload(t, []float32{10, 900})
	m.Forward(out, x, t, B)
	fmt.Println("output at initialisation:", be.Dot(out, out))
	m.Backward(out, B)
	for _, s := range m.LinearSites()[:5] {
		fmt.Println(s.Layer.Name, "rows per example:", s.Tokens)
	}
	// Output:
	// tokens: 49 of 16 pixels, width 64 parameters: 329808
	// output at initialisation: 0
	// patch rows per example: 49
	// time1 rows per example: 1
	// time2 rows per example: 1
	// block0.adaln rows per example: 1
	// block0.qkv rows per example: 49
}
