package solvers

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/pareto"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// FuzzSolve builds a problem from arbitrary bytes — header bytes choose the
// method, K, P, λ, the normaliser and whether the input is gradients or a
// Gram matrix; the rest are raw float64 values, topped up from a PCG seeded
// by them — and checks that Solve never panics and always returns a point
// of the simplex with a finite objective and gap.
func FuzzSolve(f *testing.F) {
	f.Add([]byte{0, 5, 3, 0, 0})
	f.Add([]byte{1, 11, 2, 17, 1, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f})
	f.Add([]byte{2, 7, 7, 40, 2})
	f.Add([]byte{3, 3, 1, 3, 0x80})
	f.Add([]byte{4, 9, 4, 22, 1})
	f.Add([]byte{5, 12, 5, 0, 0x81})
	f.Add([]byte{6, 2, 2, 0, 0})
	// A duplicated task with a huge value and a subnormal one.
	f.Add([]byte{2, 4, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x7f, 0, 0, 0, 0, 0, 0, 0xf0, 0x7e, 1, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 5 {
			return
		}
		methods := append(append(append([]Method(nil), Methods...), TwoTask), PlainMethods...)
		m := methods[int(data[0])%len(methods)]
		k := 1 + int(data[1])%12
		if m == TwoTask {
			k = 2
		}
		p := 1 + int(data[2])%8
		lambda := 0.0
		if data[3]%4 != 0 {
			lambda = math.Pow(10, float64(int(data[3]%48)-24))
		}
		norm := pareto.Normalizers[int(data[4]&3)]
		asGram := data[4]&0x80 != 0
		raw := data[5:]
		var seed uint64
		for _, b := range raw {
			seed = seed*131 + uint64(b)
		}
		rng := rand.New(rand.NewPCG(seed, 7))
		val := func() float64 {
			if len(raw) >= 8 {
				v := math.Float64frombits(binary.LittleEndian.Uint64(raw))
				raw = raw[8:]
				return v
			}
			return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-4))
		}
		a := mat.NewDense(k, p, nil)
		for i := range k {
			for j := range p {
				a.Set(i, j, val())
			}
		}
		losses := make([]float64, k)
		for i := range losses {
			losses[i] = 0.1 + rng.Float64()
		}
		opts := pareto.Config{Lambda: lambda, Normalizer: norm, Losses: losses}
		var prob *pareto.Problem
		var err error
		if asGram {
			var g mat.Dense
			g.Mul(a, a.T())
			prob, err = pareto.NewFromGram(&g, opts)
		} else {
			prob, err = pareto.NewFromGrads(a, opts)
		}
		if err != nil {
			return // invalid data is the constructors' business
		}
		res, err := Solve(prob, m, &Settings{MaxIter: 300})
		require.NoError(t, err)
		require.Len(t, res.W, k)
		sum := 0.0
		for _, x := range res.W {
			require.False(t, math.IsNaN(x) || math.IsInf(x, 0) || x < 0, "%v: %v", m, res.W)
			sum += x
		}
		require.InDelta(t, 1, sum, 1e-12)
		require.False(t, math.IsNaN(res.F) || math.IsInf(res.F, 0), "%v F=%v", m, res.F)
		require.False(t, math.IsNaN(res.Gap) || math.IsInf(res.Gap, 0), "%v gap=%v", m, res.Gap)
		// A Gram input may be indefinite within pareto.DefaultPSDTol·trace.
		require.GreaterOrEqual(t, res.F, -(pareto.DefaultPSDTol*float64(k)+1e-12)*prob.Scale())
		require.GreaterOrEqual(t, res.Gap, 0.0)
		require.NotEqual(t, NotTerminated, res.Status)
	})
}
