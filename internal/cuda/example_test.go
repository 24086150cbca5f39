package cuda_test

import (
	"errors"
	"fmt"

	"github.com/paretodiff/paretodiff/internal/cuda"
)

// Errors name the C call and the library's status, on one line.
func ExampleError() {
	err := &cuda.Error{Call: "cuMemAlloc_v2", Code: 2, Name: "CUDA_ERROR_OUT_OF_MEMORY", Desc: "out of memory"}
	fmt.Println(err)
	// Output: cuda: cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (out of memory)
}

// A typical use: open the first GPU (or learn that there is none), move
// data there, run kernels inside one Do, read the result back.
func ExampleOpen() {
	d, err := cuda.Open(0, cuda.Options{})
	if errors.Is(err, cuda.ErrNoDriver) {
		fmt.Println("no GPU here:", err) // e.g. "cuda: no usable CUDA driver: libcuda.so.1 not found (...)"
		return
	}
	if err != nil {
		panic(err)
	}
	defer d.Close()

	x, _ := cuda.Upload(d, []float32{-1, 0, 1, 2}) // x is (4)
	y, _ := cuda.Alloc[float32](d, 4)
	defer x.Free()
	defer y.Free()
	err = d.Do(func() error { // one hand-over to the worker for both launches
		if err := d.GELU(y, x, cuda.GELUErf); err != nil {
			return err
		}
		return d.Axpy(y, 0.5, x) // y += 0.5·x
	})
	if err != nil {
		panic(err)
	}
	out, _ := y.Download()
	fmt.Println(d.Info(), out)
}
