package cuda

import (
	"fmt"
	"math"
	"unsafe"
)

// Go transcriptions of every kernel in kernels/*.cu, which the emulated
// driver (emulator.go) runs at cuLaunchKernel over its host-memory "device".
// Each follows its CUDA C in float32 (float64 where the kernel uses double),
// element by element, so code above this package (the nn backend) can run
// end to end without a GPU; summation orders inside a block or warp are
// sequential here, so results agree with a GPU's to rounding, not bit for
// bit. Kernels that rely on a launch geometry (block reductions, warp-per-row
// and column kernels) check it and panic on a wrong one, as a GPU would
// compute garbage. Grid-stride kernels ignore the grid (any grid is correct
// for them), except the two-stage reductions, whose partial sums depend on
// the grid and are emulated block by block.

// emuArgs decodes a launch's arguments (kinds as in kernelSpecs).
type emuArgs []any

func (a emuArgs) ptr(i int) uint64  { return uint64(a[i].(DevicePtr)) }
func (a emuArgs) f32(i int) float32 { return a[i].(float32) }
func (a emuArgs) i32(i int) int     { return int(a[i].(int32)) }
func (a emuArgs) i64(i int) int     { return int(a[i].(int64)) }

func (f *fakeGPU) devF64(p uint64, n int) []float64 {
	if n == 0 {
		return nil
	}
	b := f.bytes(p, uint64(n)*8)
	return unsafe.Slice((*float64)(unsafe.Pointer(&b[0])), n)
}

func (f *fakeGPU) devI32(p uint64, n int) []int32 {
	if n == 0 {
		return nil
	}
	b := f.bytes(p, uint64(n)*4)
	return unsafe.Slice((*int32)(unsafe.Pointer(&b[0])), n)
}

// requireBlock panics unless the launch used the block shape a kernel
// assumes.
func requireBlock(name string, got, want Dim3) {
	if got != want {
		panic(fmt.Sprintf("emulated GPU: kernel %s launched with block %v, it needs %v", name, got, want))
	}
}

// requireWarps panics unless the block is 1-D with whole warps.
func requireWarps(name string, b Dim3) {
	if b.X%32 != 0 || b.Y != 1 || b.Z != 1 {
		panic(fmt.Sprintf("emulated GPU: kernel %s (one warp per row) launched with block %v", name, b))
	}
}

func expf(x float32) float32  { return float32(math.Exp(float64(x))) }
func erff(x float32) float32  { return float32(math.Erf(float64(x))) }
func sqrtf(x float32) float32 { return float32(math.Sqrt(float64(x))) }

// unaryKernels are the element-wise activations: out = f(x).
var unaryKernels = map[string]func(v float32) float32{
	"silu_f32": func(v float32) float32 { return v / (1 + expf(-v)) },
	"gelu_tanh_f32": func(v float32) float32 {
		u := float32(0.7978845608028654) * (v + float32(0.044715)*v*v*v)
		return v / (1 + expf(-2*u))
	},
	"gelu_erf_f32": func(v float32) float32 { return 0.5 * v * (1 + erff(v*float32(0.7071067811865476))) },
}

// backwardKernels are the activations' derivatives f′(x).
var backwardKernels = map[string]func(v float32) float32{
	"silu_backward_f32": func(v float32) float32 { s := 1 / (1 + expf(-v)); return s * (1 + v*(1-s)) },
	"gelu_tanh_backward_f32": func(v float32) float32 {
		const c, a = float32(0.7978845608028654), float32(0.044715)
		u := c * (v + a*v*v*v)
		s, sbar := 1/(1+expf(-2*u)), 1/(1+expf(2*u))
		du := c * (1 + 3*a*v*v)
		return s + 2*v*s*sbar*du
	},
	"gelu_erf_backward_f32": func(v float32) float32 {
		cdf := 0.5 * (1 + erff(v*float32(0.7071067811865476)))
		pdf := float32(0.3989422804014327) * expf(-0.5*v*v)
		return cdf + v*pdf
	},
}

// run executes kernel name on the emulated device memory.
func (f *fakeGPU) run(name string, grid, block Dim3, a emuArgs) {
	if g, ok := unaryKernels[name]; ok {
		n := a.i64(2)
		out, x := f.f32s(a.ptr(0), n), f.f32s(a.ptr(1), n)
		for i := range out {
			out[i] = g(x[i])
		}
		return
	}
	if g, ok := backwardKernels[name]; ok {
		n := a.i64(3)
		dx, dy, x := f.f32s(a.ptr(0), n), f.f32s(a.ptr(1), n), f.f32s(a.ptr(2), n)
		acc := a.i32(4) != 0
		for i := range dx {
			v := dy[i] * g(x[i])
			if acc {
				v += dx[i]
			}
			dx[i] = v
		}
		return
	}
	switch name {
	case "fill_f32":
		x := f.f32s(a.ptr(0), a.i64(2))
		for i := range x {
			x[i] = a.f32(1)
		}
	case "scale_f32":
		x := f.f32s(a.ptr(0), a.i64(2))
		for i := range x {
			x[i] *= a.f32(1)
		}
	case "axpy_f32":
		n := a.i64(3)
		y, x := f.f32s(a.ptr(0), n), f.f32s(a.ptr(2), n)
		for i := range y {
			y[i] += a.f32(1) * x[i]
		}
	case "add_f32", "mul_f32":
		n := a.i64(3)
		out, x, y := f.f32s(a.ptr(0), n), f.f32s(a.ptr(1), n), f.f32s(a.ptr(2), n)
		for i := range out {
			if name == "add_f32" {
				out[i] = x[i] + y[i]
			} else {
				out[i] = x[i] * y[i]
			}
		}
	case "f32_to_f64":
		n := a.i64(2)
		out, x := f.devF64(a.ptr(0), n), f.f32s(a.ptr(1), n)
		for i := range out {
			out[i] = float64(x[i])
		}
	case "bias_add_f32":
		rows, cols := a.i32(2), a.i32(3)
		y, b := f.f32s(a.ptr(0), rows*cols), f.f32s(a.ptr(1), cols)
		for i := range y {
			y[i] += b[i%cols]
		}
	case "bias_grad_f32":
		requireBlock(name, block, blockCols)
		rows, cols := a.i32(2), a.i32(3)
		db, dy := f.f32s(a.ptr(0), cols), f.f32s(a.ptr(1), rows*cols)
		for c := range db {
			var part [colsY]float32 // the kernel's per-thread-row partial sums
			for r := 0; r < rows; r++ {
				part[r%colsY] += dy[r*cols+c]
			}
			var s float32
			for _, p := range part {
				s += p
			}
			db[c] += s
		}
	case "layernorm_f32":
		requireWarps(name, block)
		rows, cols, eps := a.i32(6), a.i32(7), a.f32(8)
		out, mean, rstd := f.f32s(a.ptr(0), rows*cols), f.f32s(a.ptr(1), rows), f.f32s(a.ptr(2), rows)
		x, gamma, beta := f.f32s(a.ptr(3), rows*cols), f.f32s(a.ptr(4), cols), f.f32s(a.ptr(5), cols)
		for r := 0; r < rows; r++ {
			xr := x[r*cols : (r+1)*cols]
			var s float32
			for _, v := range xr {
				s += v
			}
			mu := s / float32(cols)
			var vs float32
			for _, v := range xr {
				vs += (v - mu) * (v - mu)
			}
			rs := 1 / sqrtf(vs/float32(cols)+eps)
			for c, v := range xr {
				out[r*cols+c] = (v-mu)*rs*gamma[c] + beta[c]
			}
			mean[r], rstd[r] = mu, rs
		}
	case "layernorm_backward_f32":
		requireWarps(name, block)
		rows, cols, acc := a.i32(6), a.i32(7), a.i32(8) != 0
		dx, dy, x := f.f32s(a.ptr(0), rows*cols), f.f32s(a.ptr(1), rows*cols), f.f32s(a.ptr(2), rows*cols)
		mean, rstd, gamma := f.f32s(a.ptr(3), rows), f.f32s(a.ptr(4), rows), f.f32s(a.ptr(5), cols)
		for r := 0; r < rows; r++ {
			mu, rs := mean[r], rstd[r]
			var sg, sgx float32
			for c := 0; c < cols; c++ {
				g := dy[r*cols+c] * gamma[c]
				sg += g
				sgx += g * (x[r*cols+c] - mu) * rs
			}
			mg, mgx := sg/float32(cols), sgx/float32(cols)
			for c := 0; c < cols; c++ {
				k := r*cols + c
				xh := (x[k] - mu) * rs
				v := rs * (dy[k]*gamma[c] - mg - xh*mgx)
				if acc {
					v += dx[k]
				}
				dx[k] = v
			}
		}
	case "layernorm_param_grad_f32":
		requireBlock(name, block, blockCols)
		rows, cols := a.i32(6), a.i32(7)
		dg, db := f.f32s(a.ptr(0), cols), f.f32s(a.ptr(1), cols)
		dy, x := f.f32s(a.ptr(2), rows*cols), f.f32s(a.ptr(3), rows*cols)
		mean, rstd := f.f32s(a.ptr(4), rows), f.f32s(a.ptr(5), rows)
		for c := 0; c < cols; c++ {
			var sg, sb float32
			for r := 0; r < rows; r++ {
				k := r*cols + c
				sg += dy[k] * (x[k] - mean[r]) * rstd[r]
				sb += dy[k]
			}
			dg[c] += sg
			db[c] += sb
		}
	case "timestep_embedding_f32":
		rows, dim, maxPeriod, tScale := a.i32(2), a.i32(3), a.f32(4), a.f32(5)
		out, t := f.f32s(a.ptr(0), rows*dim), f.devI32(a.ptr(1), rows)
		half := dim / 2
		lnp := float32(math.Log(float64(maxPeriod)))
		for i := range out {
			r, c := i/dim, i%dim
			if c >= 2*half {
				out[i] = 0
				continue
			}
			j := c
			if c >= half {
				j = c - half
			}
			arg := float64(tScale * float32(t[r]) * expf(-lnp*float32(j)/float32(half)))
			if c < half {
				out[i] = float32(math.Cos(arg))
			} else {
				out[i] = float32(math.Sin(arg))
			}
		}
	case "row_combine_f32":
		rows, cols := a.i32(5), a.i32(6)
		out, x, y := f.f32s(a.ptr(0), rows*cols), f.f32s(a.ptr(1), rows*cols), f.f32s(a.ptr(2), rows*cols)
		ca, cb := f.f32s(a.ptr(3), rows), f.f32s(a.ptr(4), rows)
		for i := range out {
			r := i / cols
			out[i] = ca[r]*x[i] + cb[r]*y[i]
		}
	case "mse_rows_f32":
		requireWarps(name, block)
		rows, cols := a.i32(4), a.i32(5)
		loss, pred, target, w := f.f32s(a.ptr(0), rows), f.f32s(a.ptr(1), rows*cols), f.f32s(a.ptr(2), rows*cols), f.f32s(a.ptr(3), rows)
		for r := range loss {
			var s float32
			for c := r * cols; c < (r+1)*cols; c++ {
				d := pred[c] - target[c]
				s += d * d
			}
			loss[r] = w[r] * s / float32(cols)
		}
	case "mse_grad_f32":
		rows, cols, scale := a.i32(4), a.i32(5), a.f32(6)
		dp, pred, target, w := f.f32s(a.ptr(0), rows*cols), f.f32s(a.ptr(1), rows*cols), f.f32s(a.ptr(2), rows*cols), f.f32s(a.ptr(3), rows)
		k := 2 * scale / float32(cols)
		for i := range dp {
			dp[i] = k * w[i/cols] * (pred[i] - target[i])
		}
	case "adamw_f32":
		n := a.i64(4)
		p, g, m, v := f.f32s(a.ptr(0), n), f.f32s(a.ptr(1), n), f.f32s(a.ptr(2), n), f.f32s(a.ptr(3), n)
		lr, b1, b2, omb1, omb2, eps := a.f32(5), a.f32(6), a.f32(7), a.f32(8), a.f32(9), a.f32(10)
		wd, bc1, bc2, gs := a.f32(11), a.f32(12), a.f32(13), a.f32(14)
		step, sbc2, decay := lr/bc1, sqrtf(bc2), 1-lr*wd
		for i := range p {
			gi := gs * g[i]
			mi := b1*m[i] + omb1*gi
			vi := b2*v[i] + omb2*gi*gi
			m[i], v[i] = mi, vi
			p[i] = p[i]*decay - step*mi/(sqrtf(vi)/sbc2+eps)
		}
	case "ema_f32":
		n := a.i64(2)
		e, p := f.f32s(a.ptr(0), n), f.f32s(a.ptr(1), n)
		d, omd := a.f32(3), a.f32(4)
		for i := range e {
			e[i] = d*e[i] + omd*p[i]
		}
	case "sumsq_partial_f32", "dot_partial_f32":
		requireBlock(name, block, block1D)
		n, y := 0, 1 // sumsq_partial_f32(partial, x, n): x·x
		if name == "sumsq_partial_f32" {
			n = a.i64(2)
		} else { // dot_partial_f32(partial, x, y, n)
			n, y = a.i64(3), 2
		}
		partial, x, yv := f.devF64(a.ptr(0), int(grid.X)), f.f32s(a.ptr(1), n), f.f32s(a.ptr(y), n)
		stride := int(grid.X) * blockThreads
		for b := range partial {
			s := 0.0
			for start := b * blockThreads; start < n; start += stride {
				for i := start; i < min(start+blockThreads, n); i++ {
					s += float64(x[i]) * float64(yv[i])
				}
			}
			partial[b] = s
		}
	case "sum_f64":
		requireBlock(name, block, block1D)
		if grid != (Dim3{1, 1, 1}) {
			panic(fmt.Sprintf("emulated GPU: sum_f64 launched with grid %v, it needs one block", grid))
		}
		n := a.i32(2)
		out, x := f.devF64(a.ptr(0), 1), f.devF64(a.ptr(1), n)
		s := 0.0
		for _, v := range x {
			s += v
		}
		out[0] = s
	case "time_embedding_f32":
		rows, dim, maxPeriod := a.i32(2), a.i32(3), a.f32(4)
		out, t := f.f32s(a.ptr(0), rows*dim), f.f32s(a.ptr(1), rows)
		half := dim / 2
		lp := math.Log(float64(maxPeriod))
		for r := 0; r < rows; r++ {
			for i := 0; i < half; i++ {
				arg := float64(t[r]) * math.Exp(-lp*float64(i)/float64(half))
				out[r*dim+i] = float32(math.Cos(arg))
				out[r*dim+half+i] = float32(math.Sin(arg))
			}
		}
	case "weighted_mse_f32":
		requireWarps(name, block)
		rows, cols, scale, grad := a.i32(5), a.i32(6), a.f32(7), a.i32(8) != 0
		loss, pred, target := f.f32s(a.ptr(0), rows), f.f32s(a.ptr(2), rows*cols), f.f32s(a.ptr(3), rows*cols)
		var dp, w []float32
		if grad {
			dp, w = f.f32s(a.ptr(1), rows*cols), f.f32s(a.ptr(4), rows)
		}
		for r := 0; r < rows; r++ {
			s := 0.0
			for c := r * cols; c < (r+1)*cols; c++ {
				d := float64(pred[c]) - float64(target[c])
				s += d * d
			}
			loss[r] = float32(s / float64(cols))
			if grad {
				k := scale * w[r] * 2 / float32(cols)
				for c := r * cols; c < (r+1)*cols; c++ {
					dp[c] = k * (pred[c] - target[c])
				}
			}
		}
	case "f32_cols_to_f64":
		rows, ld, c0, w := a.i32(2), a.i64(3), a.i64(4), a.i32(5)
		out := f.devF64(a.ptr(0), rows*w)
		x := f.f32s(a.ptr(1), max(0, (rows-1)*ld+c0+w))
		for r := 0; r < rows; r++ {
			for c := 0; c < w; c++ {
				out[r*w+c] = float64(x[r*ld+c0+c])
			}
		}
	case "scale_matrix_f32":
		rows, cols, ld, beta := a.i32(1), a.i32(2), a.i64(3), a.f32(4)
		c := f.f32s(a.ptr(0), max(0, (rows-1)*ld+cols))
		for r := 0; r < rows; r++ {
			for j := 0; j < cols; j++ {
				if beta == 0 {
					c[r*ld+j] = 0
				} else {
					c[r*ld+j] *= beta
				}
			}
		}
	default:
		panic(fmt.Sprintf("emulated GPU: no Go version of kernel %s", name))
	}
}
