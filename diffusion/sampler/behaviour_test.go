package sampler

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/weighting"
)

var testMixture = GaussianMixture{
	Weights: []float64{1, 2},
	Means:   [][]float64{{-1, 0.5}, {1.5, -0.5}},
	Stds:    [][]float64{{0.3, 0.2}, {0.2, 0.4}},
}

func mixtureDenoiser(t *testing.T, sc *diffusion.Schedule, tg weighting.Target) *OptimalDenoiser {
	den, err := NewOptimalDenoiser(testMixture, sc, tg)
	require.NoError(t, err)
	return den
}

// Same seed → same bits, for any batch size; a longer run begins with the
// shorter run's samples (every row has its own generator).
func TestDeterministicAndBatchInvariant(t *testing.T) {
	sc := diffusion.Cosine(1000)
	den := mixtureDenoiser(t, sc, weighting.V)
	for _, smp := range []Sampler{DDPM{}, DDIM{Eta: 0.3}, Heun{}} {
		set := &Settings{Steps: 12}
		a := make([]float32, 100*2)
		b := make([]float32, 100*2)
		c := make([]float32, 130*2)
		require.NoError(t, smp.Sample(a, den, sc, newRNG(5), set))
		require.NoError(t, smp.Sample(b, den, sc, newRNG(5), &Settings{Steps: 12, BatchSize: 7}))
		require.NoError(t, smp.Sample(c, den, sc, newRNG(5), &Settings{Steps: 12, BatchSize: 64}))
		require.Equal(t, a, b, "%v: batch size changed the samples", smp)
		require.Equal(t, a, c[:len(a)], "%v: a longer run must start with the same samples", smp)
		require.NoError(t, smp.Sample(b, den, sc, newRNG(6), set))
		require.NotEqual(t, a, b, "%v: another seed must give other samples", smp)
	}
}

func TestProgressCountsEvaluations(t *testing.T) {
	for _, sc := range []*diffusion.Schedule{diffusion.Cosine(100), diffusion.Cosine(100).ZeroTerminal()} {
		den := mixtureDenoiser(t, sc, weighting.X0)
		for _, smp := range []Sampler{DDPM{}, DDIM{}, Heun{}} {
			var calls []int
			tot := -1
			set := &Settings{Steps: 9, BatchSize: 40, Progress: func(done, total int) {
				calls = append(calls, done)
				tot = total
			}}
			require.NoError(t, smp.Sample(make([]float32, 100*2), den, sc, newRNG(1), set))
			evals, err := smp.Evaluations(sc, set)
			require.NoError(t, err)
			require.Equal(t, 3*evals, tot, "%v %v: 3 batches × evaluations", smp, sc)
			require.Len(t, calls, tot)
			for i, c := range calls {
				require.Equal(t, i+1, c)
			}
		}
	}
	ts, _ := Heun{}.Timesteps(diffusion.Cosine(1000), nil)
	n, _ := Heun{}.Evaluations(diffusion.Cosine(1000), nil)
	require.Equal(t, 2*len(ts)-2, n, "default Heun: Euler into the ramp, then Heun, then Euler to 0")
	n, _ = Heun{SigmaMax: math.Inf(1)}.Evaluations(diffusion.Cosine(1000), &Settings{Steps: 18})
	ts, _ = Heun{SigmaMax: math.Inf(1)}.Timesteps(diffusion.Cosine(1000), &Settings{Steps: 18})
	require.Equal(t, 2*len(ts)-1, n, "uncapped Heun on a non-zero-terminal schedule: EDM's 2N − 1")
}

func TestDefaults(t *testing.T) {
	sc := diffusion.Cosine(1000)
	for _, c := range []struct {
		smp Sampler
		n   int
	}{{DDPM{}, 1000}, {DDIM{}, DefaultDDIMSteps}, {Heun{}, DefaultHeunSteps}} {
		ts, err := c.smp.Timesteps(sc, nil)
		require.NoError(t, err)
		require.Len(t, ts, c.n, "%v", c.smp)
	}
}

func TestErrors(t *testing.T) {
	sc := diffusion.Cosine(100)
	zt := sc.ZeroTerminal()
	x := make([]float32, 10*2)
	for _, smp := range []Sampler{DDPM{}, DDIM{}, Heun{}} {
		require.ErrorIs(t, smp.Sample(x, mixtureDenoiser(t, zt, weighting.Eps), zt, newRNG(1), nil), ErrEpsAtZeroSNR, "%v", smp)
		require.NoError(t, smp.Sample(x, mixtureDenoiser(t, zt, weighting.V), zt, newRNG(1), &Settings{Steps: 10}), "%v", smp)
		for _, set := range []*Settings{{Steps: 101}, {Steps: -1}, {BatchSize: -1}, {ClipX0: -1}} {
			require.Error(t, smp.Sample(x, mixtureDenoiser(t, sc, weighting.V), sc, newRNG(1), set), "%v %+v", smp, set)
		}
		require.ErrorContains(t, smp.Sample(x, nanDenoiser{}, sc, newRNG(1), &Settings{Steps: 3}), "non-finite", "%v", smp)
		require.Panics(t, func() { _ = smp.Sample(make([]float32, 5), nanDenoiser{}, sc, newRNG(1), nil) }, "%v", smp)
	}
	require.Error(t, DDIM{Eta: 2}.Sample(x, mixtureDenoiser(t, sc, weighting.V), sc, newRNG(1), nil))
	require.Error(t, DDPM{Variance: 5}.Sample(x, mixtureDenoiser(t, sc, weighting.V), sc, newRNG(1), nil))
	require.Error(t, Heun{Rho: -1}.Sample(x, mixtureDenoiser(t, sc, weighting.V), sc, newRNG(1), nil))
	// No rows is not an error.
	require.NoError(t, DDIM{}.Sample(nil, mixtureDenoiser(t, sc, weighting.V), sc, newRNG(1), nil))
}

// nanDenoiser predicts NaN everywhere.
type nanDenoiser struct{}

func (nanDenoiser) Dim() int                 { return 2 }
func (nanDenoiser) Target() weighting.Target { return weighting.X0 }
func (nanDenoiser) Predict(out, _ []float32, _ []int) {
	for i := range out {
		out[i] = float32(math.NaN())
	}
}

func TestClipX0(t *testing.T) {
	const c = 0.4
	sc := diffusion.Cosine(1000)
	for _, smp := range []Sampler{DDPM{}, DDIM{}, Heun{}} {
		for _, tg := range weighting.Targets {
			x := make([]float32, 200*2)
			require.NoError(t, smp.Sample(x, mixtureDenoiser(t, sc, tg), sc, newRNG(2), &Settings{Steps: 10, ClipX0: c}))
			for _, v := range x {
				require.True(t, v >= -c && v <= c, "%v %v: %v outside [−%g, %g]", smp, tg, v, c, c)
			}
		}
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		spec string
		want Sampler
		str  string
	}{
		{"ddpm", DDPM{}, "ddpm"},
		{"ddpm:beta", DDPM{Variance: Beta}, "ddpm:beta"},
		{"ddpm:beta-tilde", DDPM{}, "ddpm"},
		{"ddim", DDIM{}, "ddim:0"},
		{" ddim:0.5", DDIM{Eta: 0.5}, "ddim:0.5"},
		{"heun", Heun{}, "heun:7,80"},
		{"heun:5", Heun{Rho: 5}, "heun:5,80"},
		{"heun:7,inf", Heun{Rho: 7, SigmaMax: math.Inf(1)}, "heun:7,+Inf"},
	} {
		got, err := Parse(c.spec)
		require.NoError(t, err, c.spec)
		require.Equal(t, c.want, got, c.spec)
		require.Equal(t, c.str, got.String())
		back, err := Parse(got.String())
		require.NoError(t, err, "round trip of %q", got.String())
		require.Equal(t, got.String(), back.String())
	}
	for _, bad := range []string{"", "euler", "ddim:x", "ddim:1.5", "ddim:-0.1", "ddim:NaN", "ddpm:large", "heun:0", "heun:-1", "heun:7,0", "heun:1,2,3"} {
		_, err := Parse(bad)
		require.Error(t, err, bad)
	}
}
