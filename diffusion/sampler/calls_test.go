package sampler

import (
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

// Every sampler makes exactly Evaluations denoiser calls per batch, and
// Progress counts them all. (Heun once took an Euler step at a ramp point
// that rounded to σ_t just above σ_max, one call fewer than counted.)
func TestEvaluationsCountsTheCalls(t *testing.T) {
	for _, sched := range []*diffusion.Schedule{diffusion.Cosine(1000), must(diffusion.NewSchedule("linear", 1000, true))} {
		den, err := NewOptimalDenoiser(Gaussian([]float64{0.5}, []float64{0.3}), sched, weighting.V)
		require.NoError(t, err)
		for _, spec := range []string{"heun", "heun:7,inf", "heun:3,10", "ddim", "ddpm"} {
			for _, steps := range []int{0, 5, 18, 40} {
				smp, err := Parse(spec)
				require.NoError(t, err)
				calls, last, total := 0, 0, 0
				set := &Settings{Steps: steps, BatchSize: 7, Progress: func(d, tot int) { last, total = d, tot }}
				counting := countingDenoiser{den, &calls}
				evals, err := smp.Evaluations(sched, set)
				require.NoError(t, err)
				x := make([]float32, 20) // 20 rows: 3 batches of 7, 7, 6
				require.NoError(t, smp.Sample(x, counting, sched, rand.New(rand.NewPCG(1, 1)), set))
				require.Equal(t, 3*evals, calls, "%s %s steps %d", sched.Name(), spec, steps)
				require.Equal(t, calls, last)
				require.Equal(t, calls, total)
			}
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

type countingDenoiser struct {
	diffusion.Denoiser
	calls *int
}

func (c countingDenoiser) Predict(out, xt []float32, t []int) {
	*c.calls++
	c.Denoiser.Predict(out, xt, t)
}
