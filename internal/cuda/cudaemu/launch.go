package cudaemu

import (
	"fmt"

	"github.com/paretodiff/paretodiff/internal/cuda"
)

// The launch geometry the kernels assume (kernels/prelude.cuh): PD_BLOCK
// threads in a 1-D block, (PD_COLS_X, PD_COLS_Y) blocks for column
// reductions. A test checks them against the prelude.
const (
	blockThreads = 256 // PD_BLOCK
	colsX        = 32  // PD_COLS_X
	colsY        = 8   // PD_COLS_Y
	warpSize     = 32
)

var (
	block1D   = cuda.Dim3{X: blockThreads, Y: 1, Z: 1}
	blockCols = cuda.Dim3{X: colsX, Y: colsY, Z: 1}
	oneBlock  = cuda.Dim3{X: 1, Y: 1, Z: 1}
)

// A kernel is the Go transcription of one CUDA kernel: it carries out
// launch l to the end, on the GPU's memory.
type kernel func(l *launch)

// kernelFile holds the transcriptions of the kernels of one kernels/*.cu
// file of package cuda, by kernel name.
type kernelFile struct {
	file    string // as cuda.KernelSource heads its part, e.g. "kernels/elementwise.cu"
	kernels map[string]kernel
}

// kernelFiles are the transcriptions, one kernelFile per .cu file (each in
// the Go file of the same name).
var kernelFiles = []kernelFile{activationsCU, diffusionCU, elementwiseCU, layernormCU, optimCU, reduceCU, seqCU, trainingCU}

// kernels indexes every transcription by kernel name.
var kernels = func() map[string]kernel {
	out := map[string]kernel{}
	for _, f := range kernelFiles {
		for name, k := range f.kernels {
			if _, dup := out[name]; dup {
				panic("cudaemu: kernel " + name + " transcribed twice")
			}
			out[name] = k
		}
	}
	return out
}()

// launch is one kernel launch as a transcription sees it: the kernel, the
// launch geometry and the arguments decoded by the kernel's C parameter
// types. It runs with the GPU locked.
type launch struct {
	g           *GPU
	kernel      string
	grid, block cuda.Dim3
	args        []any
}

// run carries out the launch with the kernel's transcription.
func (l *launch) run() {
	k, ok := kernels[l.kernel]
	if !ok {
		panic(fmt.Sprintf("cudaemu: no Go transcription of kernel %s", l.kernel))
	}
	k(l)
}

// ptr, f32, i32 and i64 are argument i as a pointer, float, int or i64.
func (l *launch) ptr(i int) uint64  { return uint64(l.args[i].(cuda.DevicePtr)) }
func (l *launch) f32(i int) float32 { return l.args[i].(float32) }
func (l *launch) i32(i int) int     { return int(l.args[i].(int32)) }
func (l *launch) i64(i int) int     { return int(l.args[i].(int64)) }

// float32s, float64s and int32s are the n elements that pointer argument
// i points at.
func (l *launch) float32s(i, n int) []float32 { return deviceSlice[float32](l.g, l.ptr(i), n) }
func (l *launch) float64s(i, n int) []float64 { return deviceSlice[float64](l.g, l.ptr(i), n) }
func (l *launch) int32s(i, n int) []int32     { return deviceSlice[int32](l.g, l.ptr(i), n) }

// needBlock panics unless the launch used the block shape the kernel
// assumes.
func (l *launch) needBlock(want cuda.Dim3) {
	if l.block != want {
		panic(fmt.Sprintf("cudaemu: kernel %s launched with block %v, it needs %v", l.kernel, l.block, want))
	}
}

// needWarps panics unless the block is 1-D with whole warps (one warp per
// row).
func (l *launch) needWarps() {
	if l.block.X%warpSize != 0 || l.block.Y != 1 || l.block.Z != 1 {
		panic(fmt.Sprintf("cudaemu: kernel %s (one warp per row) launched with block %v", l.kernel, l.block))
	}
}

// needGrid panics unless the launch used the grid the kernel assumes.
func (l *launch) needGrid(want cuda.Dim3) {
	if l.grid != want {
		panic(fmt.Sprintf("cudaemu: kernel %s launched with grid %v, it needs %v", l.kernel, l.grid, want))
	}
}
