package weighting

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// densityDraws and densitySigmas: with 400k draws the count of a bin with
// probability p has standard deviation √(n p (1−p)); 5 standard deviations
// keeps the false-alarm rate per check below 1e-6 while catching any error in
// a bin's mass above about 1%.
const (
	densityDraws  = 400_000
	densitySigmas = 5
)

// testLogSNR is a strictly decreasing log-SNR for T steps (cosine-like),
// written here so the test does not depend on package diffusion.
func testLogSNR(T int) []float64 {
	out := make([]float64, T)
	for t := range out {
		u := (float64(t) + 0.5) / float64(T)
		c := math.Cos(u * math.Pi / 2)
		out[t] = math.Log(c * c / (1 - c*c))
	}
	return out
}

// checkAgainstPMF compares coarse-binned draw counts with the PMF.
func checkAgainstPMF(t *testing.T, d Density, seed uint64) {
	t.Helper()
	T := d.T()
	pmf := d.PMF()
	require.Len(t, pmf, T)
	sum := 0.0
	for _, p := range pmf {
		require.GreaterOrEqual(t, p, 0.0)
		sum += p
	}
	require.InDelta(t, 1, sum, 1e-12, "%v PMF sums to 1", d)

	rng := rand.New(rand.NewPCG(seed, 1))
	draws := make([]int, densityDraws)
	// Draw in batches, as training does.
	for i := 0; i < len(draws); i += 256 {
		d.Sample(rng, draws[i:min(i+256, len(draws))])
	}
	const coarse = 25
	counts := make([]float64, coarse)
	probs := make([]float64, coarse)
	for _, x := range draws {
		require.True(t, x >= 0 && x < T, "%v drew %d", d, x)
		counts[x*coarse/T]++
	}
	for tt, p := range pmf {
		probs[tt*coarse/T] += p
	}
	for b := range counts {
		want := probs[b] * densityDraws
		sd := math.Sqrt(densityDraws * probs[b] * (1 - probs[b]))
		require.InDelta(t, want, counts[b], densitySigmas*sd+1, "%v coarse bin %d", d, b)
	}
}

func TestDensitiesMatchPMF(t *testing.T) {
	T := 1000
	for i, d := range []Density{
		Uniform{Steps: T},
		Stratified{Steps: T, K: 7},
		Range{Steps: T, Lo: 100, Hi: 350},
		LogitNormal{Steps: T, M: 0, S: 1},
		LogitNormal{Steps: T, M: 0.5, S: 0.6},
		EDMLogNormal{PMean: -1.2, PStd: 1.2, LogSNR: testLogSNR(T)},
	} {
		checkAgainstPMF(t, d, uint64(100+i))
	}
}

// The EDM PMF by brute force: integrate the normal density of ln σ over the
// set of x whose nearest ln σ_t is t, found by scanning every t.
func TestEDMPMFBruteForce(t *testing.T) {
	T := 60
	ls := testLogSNR(T)
	d := EDMLogNormal{PMean: -1.2, PStd: 1.2, LogSNR: ls}
	pmf := d.PMF()
	brute := make([]float64, T)
	const lo, hi, n = -12.0, 12.0, 400_000
	h := (hi - lo) / n
	for i := 0; i < n; i++ {
		x := lo + (float64(i)+0.5)*h
		best, bestD := 0, math.Inf(1)
		for tt := 0; tt < T; tt++ {
			if dd := math.Abs(x - (-ls[tt] / 2)); dd < bestD {
				best, bestD = tt, dd
			}
		}
		z := (x + 1.2) / 1.2
		brute[best] += math.Exp(-z*z/2) / (1.2 * math.Sqrt(2*math.Pi)) * h
	}
	for tt := range pmf {
		// Each of a bin's two edges is found to within one cell h, where the
		// density is at most 1/(1.2√(2π)) < 0.34: error ≤ 2·h·0.34 < 5e-5.
		require.InDelta(t, brute[tt], pmf[tt], 5e-5, "t=%d", tt)
	}
}

func TestStratifiedHitsEveryBinEqually(t *testing.T) {
	d := Stratified{Steps: 1000, K: 8}
	rng := rand.New(rand.NewPCG(3, 4))
	batch := make([]int, 64)
	d.Sample(rng, batch)
	edges := MustEqualT(1000, 8).Edges
	per := make([]int, 8)
	for _, x := range batch {
		per[sort.SearchInts(edges, x+1)-1]++
	}
	for _, c := range per {
		require.Equal(t, 8, c)
	}
}

func TestDensityDeterministic(t *testing.T) {
	d := LogitNormal{Steps: 1000, M: 0, S: 1}
	a, b := make([]int, 100), make([]int, 100)
	d.Sample(rand.New(rand.NewPCG(9, 9)), a)
	d.Sample(rand.New(rand.NewPCG(9, 9)), b)
	require.Equal(t, a, b)
}

func TestEqualT(t *testing.T) {
	require.Equal(t, []int{0, 333, 666, 1000}, MustEqualT(1000, 3).Edges)
	require.Equal(t, []int{0, 1, 2}, MustEqualT(2, 2).Edges)
	_, err := EqualT(10, 0)
	require.Error(t, err)
	_, err = EqualT(10, 11)
	require.Error(t, err)
}

func TestParseDensity(t *testing.T) {
	ls := testLogSNR(100)
	for spec, want := range map[string]string{
		"uniform":              "uniform",
		"stratified:4":         "stratified:4",
		"range:10,20":          "range:10,20",
		"logit-normal":         "logit-normal:0,1",
		"logit-normal:0.5,2":   "logit-normal:0.5,2",
		"edm-lognormal":        "edm-lognormal:-1.2,1.2",
		"edm-lognormal:-1,1.5": "edm-lognormal:-1,1.5",
	} {
		d, err := ParseDensity(spec, 100, ls)
		require.NoError(t, err, spec)
		require.Equal(t, want, d.String())
		require.Equal(t, 100, d.T())
	}
	for spec, msg := range map[string]string{
		"gauss":              "unknown density",
		"stratified":         "stratified:K",
		"stratified:0":       "stratified:K",
		"stratified:101":     "stratified:K",
		"stratified:2.5":     "stratified:K",
		"logit-normal:0":     "two parameters",
		"logit-normal:0,-1":  "scale must be positive",
		"logit-normal:nan,1": "not a finite number",
		"uniform:3":          "no parameters",
		"range:5":            "range:LO,HI",
		"range:20,10":        "range:LO,HI",
		"range:0,101":        "range:LO,HI",
		"range:0.5,10":       "range:LO,HI",
	} {
		_, err := ParseDensity(spec, 100, ls)
		require.ErrorContains(t, err, msg, spec)
	}
	_, err := ParseDensity("edm-lognormal", 100, ls[:50])
	require.ErrorContains(t, err, "needs the schedule's 100 log-SNR values")
	bad := append([]float64(nil), ls...)
	bad[10] = bad[9]
	_, err = ParseDensity("edm-lognormal", 100, bad)
	require.ErrorContains(t, err, "decrease strictly")
	_, err = ParseDensity("uniform", 0, nil)
	require.ErrorContains(t, err, "T must be ≥ 1")
}
