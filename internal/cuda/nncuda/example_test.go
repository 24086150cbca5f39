package nncuda_test

import (
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/cuda"
	"github.com/paretodiff/paretodiff/internal/cuda/cudaemu"
	"github.com/paretodiff/paretodiff/internal/cuda/nncuda"
)

// The backend is an nn.Backend: programs pick it with nn.NewBackend("cuda")
// (or "auto") once the package is imported, and use the engine as on the
// CPU. This example runs on the emulated device, so that it runs anywhere;
// nncuda.New() opens the real GPU.
func ExampleNewOn() {
	dev, err := cudaemu.Open(1<<20, cuda.Options{})
	if err != nil {
		panic(err)
	}
	defer dev.Close()
	var be nn.Backend = nncuda.NewOn(dev)

	x, y := be.Alloc(3), be.Alloc(3)
	be.Upload(x, []float32{1, 2, 3})
	be.Fill(y, 10)
	be.Axpy(y, 2, x)                   // queued: y = 10 + 2x
	be.Activate(nn.SiLU, x, x)         // queued
	fmt.Printf("%.1f\n", be.Dot(y, y)) // runs the queue, then the float64 dot product
	host := make([]float32, 3)
	be.Download(host, y)
	fmt.Println(host, be.Sync())
	// Output:
	// 596.0
	// [12 14 16] <nil>
}
