package cudaemu_test

import (
	"fmt"

	"github.com/paretodiff/paretodiff/internal/cuda"
	"github.com/paretodiff/paretodiff/internal/cuda/cudaemu"
)

// A Device on the emulator works as one on a GPU.
func ExampleOpen() {
	d, err := cudaemu.Open(1<<20, cuda.Options{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	x, err := cuda.Upload(d, []float32{1, 2, 3})
	if err != nil {
		panic(err)
	}
	if err := d.Scale(x, 2); err != nil {
		panic(err)
	}
	y, err := x.Download()
	fmt.Println(d.Info(), y, err)
	// Output:
	// cuda:0 Emulated GPU (sm_86, 0.0 GiB, driver CUDA 12.8) [2 4 6] <nil>
}

// The GPU records what a Device launched on it.
func ExampleGPU_TakeLaunches() {
	g := cudaemu.New(1 << 20)
	g.RecordLaunches(true)
	d, err := g.Open(cuda.Options{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	x, err := cuda.Alloc[float32](d, 1000)
	if err != nil {
		panic(err)
	}
	if err := d.Fill(x, 0.5); err != nil {
		panic(err)
	}
	for _, l := range g.TakeLaunches() {
		fmt.Println(l.Kernel, l.Grid, l.Block, l.Args[1:])
	}
	fmt.Println(g.Compiles(), "compilation;", g.Calls("cuLaunchKernel"), "launch")
	// Output:
	// fill_f32 {4 1 1} {256 1 1} [0.5 1000]
	// 1 compilation; 1 launch
}
