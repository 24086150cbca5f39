package cuda_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// float64 references of the sequence kernels (kernels/seq.cu), and checks
// of the references against closed forms and finite differences, as in
// ref_test.go. Each returns, next to its result, the magnitudes of the
// terms behind every element (the scale of its float32 rounding error).

// refSoftmax is y[r, :] = softmax(scale·x[r, :]) in float64, the row
// maximum subtracted (the tests' scale·x reaches 7500, beyond float64's
// exp too).
func refSoftmax(x []float64, rows, cols int, scale float64) []float64 {
	y := make([]float64, rows*cols)
	for r := range rows {
		m := math.Inf(-1)
		for c := range cols {
			m = math.Max(m, scale*x[r*cols+c])
		}
		s := 0.0
		for c := range cols {
			y[r*cols+c] = math.Exp(scale*x[r*cols+c] - m)
			s += y[r*cols+c]
		}
		for c := range cols {
			y[r*cols+c] /= s
		}
	}
	return y
}

// refSoftmaxBackward is dx = scale·y ⊙ (dy − ⟨dy, y⟩) per row; mag is
// |scale|·y·(|dy| + Σ|dy·y|).
func refSoftmaxBackward(y, dy []float64, rows, cols int, scale float64) (dx, mag []float64) {
	dx, mag = make([]float64, rows*cols), make([]float64, rows*cols)
	for r := range rows {
		s, sa := 0.0, 0.0
		for c := range cols {
			s += dy[r*cols+c] * y[r*cols+c]
			sa += math.Abs(dy[r*cols+c] * y[r*cols+c])
		}
		for c := range cols {
			k := r*cols + c
			dx[k] = scale * y[k] * (dy[k] - s)
			mag[k] = math.Abs(scale*y[k])*(math.Abs(dy[k])+sa) + 1e-30
		}
	}
	return
}

// modShape is the shape of a modulation: groups of tokens rows of cols
// values, factors at row stride ld.
type modShape struct{ groups, tokens, cols, ld int }

func (m modShape) rows() int { return m.groups * m.tokens }

// factor is the index of the factor of column c of row r's group.
func (m modShape) factor(r, c int) int { return r/m.tokens*m.ld + c }

// refModulate is y = x·(one + s_g) + t_g (t nil: no shift); mag is
// |x|·(|one| + |s|) + |t|.
func refModulate(sh modShape, x, s, t []float64, one float64) (y, mag []float64) {
	y, mag = make([]float64, sh.rows()*sh.cols), make([]float64, sh.rows()*sh.cols)
	for r := range sh.rows() {
		for c := range sh.cols {
			k, f := r*sh.cols+c, sh.factor(r, c)
			y[k] = x[k] * (one + s[f])
			mag[k] = math.Abs(x[k])*(math.Abs(one)+math.Abs(s[f])) + 1e-30
			if t != nil {
				y[k] += t[f]
				mag[k] += math.Abs(t[f])
			}
		}
	}
	return
}

// modGrads are the gradients of a modulation and the magnitudes of their
// terms; ds and dt are (groups, cols), densely packed.
type modGrads struct{ dx, ds, dt, dxMag, dsMag, dtMag []float64 }

// refModulateBackward is dx = dy·(one + s_g), ds_g = Σ_p dy·x and
// dt_g = Σ_p dy over each group's tokens.
func refModulateBackward(sh modShape, dy, x, s []float64, one float64) modGrads {
	n, m := sh.rows()*sh.cols, sh.groups*sh.cols
	gr := modGrads{make([]float64, n), make([]float64, m), make([]float64, m), make([]float64, n), make([]float64, m), make([]float64, m)}
	for r := range sh.rows() {
		g := r / sh.tokens
		for c := range sh.cols {
			k, f := r*sh.cols+c, sh.factor(r, c)
			gr.dx[k] = dy[k] * (one + s[f])
			gr.dxMag[k] = math.Abs(dy[k])*(math.Abs(one)+math.Abs(s[f])) + 1e-30
			gr.ds[g*sh.cols+c] += dy[k] * x[k]
			gr.dsMag[g*sh.cols+c] += math.Abs(dy[k] * x[k])
			gr.dt[g*sh.cols+c] += dy[k]
			gr.dtMag[g*sh.cols+c] += math.Abs(dy[k])
		}
	}
	for i := range gr.dsMag {
		gr.dsMag[i] += 1e-30
		gr.dtMag[i] += 1e-30
	}
	return gr
}

// refPatchify returns the patch tokens of n images, walking the images
// pixel by pixel (the kernel walks the tokens): pixel (y, x) of channel c
// lies in patch (y/patch, x/patch) at position (y%patch, x%patch).
func refPatchify(img []float32, n, channels, side, patch int) []float32 {
	tok := make([]float32, len(img))
	g, f := side/patch, patch*patch*channels
	for b := range n {
		for c := range channels {
			for y := range side {
				for x := range side {
					t := b*g*g + (y/patch)*g + x/patch
					tok[t*f+((y%patch)*patch+x%patch)*channels+c] = img[((b*channels+c)*side+y)*side+x]
				}
			}
		}
	}
	return tok
}

func TestReferenceSoftmax(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 60))
	const rows, cols, scale = 3, 9, 0.7
	x, dy := f64s(randF32(r, rows*cols, 2)), f64s(randF32(r, rows*cols, 1))
	y := refSoftmax(x, rows, cols, scale)
	for row := range rows {
		s := 0.0
		for c := range cols {
			require.Greater(t, y[row*cols+c], 0.0)
			s += y[row*cols+c]
		}
		require.InDelta(t, 1, s, 1e-15, "row %d sums to 1", row)
		// softmax(z)_c / softmax(z)_0 = e^(z_c − z_0).
		for c := range cols {
			require.InEpsilon(t, math.Exp(scale*(x[row*cols+c]-x[row*cols])), y[row*cols+c]/y[row*cols], 1e-14)
		}
	}
	// Backward against central differences of L = Σ dy·softmax(scale·x).
	loss := func() float64 {
		l := 0.0
		for i, v := range refSoftmax(x, rows, cols, scale) {
			l += dy[i] * v
		}
		return l
	}
	dx, _ := refSoftmaxBackward(y, dy, rows, cols, scale)
	for i := range x {
		old := x[i]
		x[i] = old + fdStep
		lp := loss()
		x[i] = old - fdStep
		lm := loss()
		x[i] = old
		require.InDelta(t, (lp-lm)/(2*fdStep), dx[i], tolFD, "dx[%d]", i)
	}
}

func TestReferenceModulate(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 61))
	sh := modShape{groups: 2, tokens: 3, cols: 4, ld: 9}
	x, dy := f64s(randF32(r, sh.rows()*sh.cols, 1)), f64s(randF32(r, sh.rows()*sh.cols, 1))
	s, tt := f64s(randF32(r, 2*sh.ld, 1)), f64s(randF32(r, 2*sh.ld, 1))
	const one = 1.0
	y, _ := refModulate(sh, x, s, tt, one)
	// Row 4 is token 1 of group 1: its factors are at 9 + c.
	for c := range sh.cols {
		require.Equal(t, x[4*sh.cols+c]*(1+s[9+c])+tt[9+c], y[4*sh.cols+c])
	}
	// The map is linear in x and in t and affine in s: central differences
	// of L = Σ dy·y are exact up to rounding.
	loss := func() float64 {
		yy, _ := refModulate(sh, x, s, tt, one)
		l := 0.0
		for i, v := range yy {
			l += dy[i] * v
		}
		return l
	}
	fd := func(v []float64, i int) float64 {
		old := v[i]
		v[i] = old + fdStep
		lp := loss()
		v[i] = old - fdStep
		lm := loss()
		v[i] = old
		return (lp - lm) / (2 * fdStep)
	}
	gr := refModulateBackward(sh, dy, x, s, one)
	for i := range x {
		require.InDelta(t, fd(x, i), gr.dx[i], tolFD, "dx[%d]", i)
	}
	for g := range sh.groups {
		for c := range sh.cols {
			require.InDelta(t, fd(s, g*sh.ld+c), gr.ds[g*sh.cols+c], tolFD, "ds[%d, %d]", g, c)
			require.InDelta(t, fd(tt, g*sh.ld+c), gr.dt[g*sh.cols+c], tolFD, "dt[%d, %d]", g, c)
		}
	}
}

func TestReferencePatchify(t *testing.T) {
	// One image of 2 channels, side 4, patch 2: token 1 is the top-right
	// patch, its features (i, j, c) in that order.
	img := make([]float32, 2*4*4)
	for i := range img {
		img[i] = float32(i)
	}
	tok := refPatchify(img, 1, 2, 4, 2)
	// Channel 0 pixels (0, 2), (0, 3), (1, 2), (1, 3) are 2, 3, 6, 7; channel 1's are 16 more.
	require.Equal(t, []float32{2, 18, 3, 19, 6, 22, 7, 23}, tok[8:16])
	// A permutation: every value once.
	seen := map[float32]bool{}
	for _, v := range tok {
		seen[v] = true
	}
	require.Len(t, seen, len(img))
}
