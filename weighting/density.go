package weighting

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// Density is a distribution over the discrete timesteps t = 0..T−1 from which
// training draws its timesteps.
type Density interface {
	// T returns the number of timesteps.
	T() int
	// PMF returns the probability of each timestep (length T, sums to 1).
	// For Stratified it is the marginal of one draw.
	PMF() []float64
	// Sample fills dst with timesteps drawn with rng.
	Sample(rng *rand.Rand, dst []int)
	// String returns the canonical spec that ParseDensity reads back.
	String() string
}

// Uniform draws t uniformly from 0..T−1, the paper's default.
type Uniform struct{ Steps int }

// T returns the number of timesteps.
func (u Uniform) T() int { return u.Steps }

// PMF returns 1/T for every t.
func (u Uniform) PMF() []float64 {
	p := make([]float64, u.Steps)
	for i := range p {
		p[i] = 1 / float64(u.Steps)
	}
	return p
}

// Sample fills dst with uniform draws.
func (u Uniform) Sample(rng *rand.Rand, dst []int) {
	for i := range dst {
		dst[i] = rng.IntN(u.Steps)
	}
}

// String returns "uniform".
func (u Uniform) String() string { return "uniform" }

// Stratified splits 0..T−1 into the K equal-width bins of EqualT(T, K) and
// draws element i of a batch uniformly from bin (o + i) mod K, with the offset
// o drawn once per call. Every bin is then hit ⌊B/K⌋ or ⌈B/K⌉ times per batch
// of B, and each draw's marginal gives every bin mass 1/K.
type Stratified struct{ Steps, K int }

// T returns the number of timesteps.
func (s Stratified) T() int { return s.Steps }

// PMF returns the marginal of one draw: 1/K per bin, uniform within a bin.
func (s Stratified) PMF() []float64 {
	edges := equalEdges(s.Steps, s.K)
	p := make([]float64, s.Steps)
	for b := 0; b < s.K; b++ {
		w := edges[b+1] - edges[b]
		for t := edges[b]; t < edges[b+1]; t++ {
			p[t] = 1 / float64(s.K) / float64(w)
		}
	}
	return p
}

// Sample fills dst with stratified draws.
func (s Stratified) Sample(rng *rand.Rand, dst []int) {
	edges := equalEdges(s.Steps, s.K)
	o := rng.IntN(s.K)
	for i := range dst {
		b := (o + i) % s.K
		dst[i] = edges[b] + rng.IntN(edges[b+1]-edges[b])
	}
}

// String returns "stratified:K".
func (s Stratified) String() string { return "stratified:" + strconv.Itoa(s.K) }

// Range draws timesteps uniformly from [Lo, Hi) out of 0..T−1: training on
// one timestep bin only (the fine-tuning of the paper's Fig. 2).
type Range struct{ Steps, Lo, Hi int }

// T returns the number of timesteps.
func (r Range) T() int { return r.Steps }

// PMF returns 1/(Hi−Lo) on [Lo, Hi) and 0 elsewhere.
func (r Range) PMF() []float64 {
	p := make([]float64, r.Steps)
	for t := r.Lo; t < r.Hi; t++ {
		p[t] = 1 / float64(r.Hi-r.Lo)
	}
	return p
}

// Sample fills dst with uniform draws from [Lo, Hi).
func (r Range) Sample(rng *rand.Rand, dst []int) {
	for i := range dst {
		dst[i] = r.Lo + rng.IntN(r.Hi-r.Lo)
	}
}

// String returns "range:LO,HI".
func (r Range) String() string { return "range:" + strconv.Itoa(r.Lo) + "," + strconv.Itoa(r.Hi) }

// LogitNormal draws u = sigmoid(M + S·z), z ~ N(0,1), and t = ⌊u·T⌋ (Esser et
// al. 2024, "SD3"), concentrating on middle timesteps for M = 0.
type LogitNormal struct {
	Steps int
	M, S  float64
}

// T returns the number of timesteps.
func (l LogitNormal) T() int { return l.Steps }

// PMF returns P(t) = Φ((logit((t+1)/T) − M)/S) − Φ((logit(t/T) − M)/S).
func (l LogitNormal) PMF() []float64 {
	p := make([]float64, l.Steps)
	cdf := func(t int) float64 {
		u := float64(t) / float64(l.Steps)
		return normCDF((math.Log(u/(1-u)) - l.M) / l.S) // logit(0) = −∞ and logit(1) = +∞ give 0 and 1
	}
	for t := range p {
		p[t] = cdf(t+1) - cdf(t)
	}
	return p
}

// Sample fills dst with logit-normal draws.
func (l LogitNormal) Sample(rng *rand.Rand, dst []int) {
	for i := range dst {
		u := 1 / (1 + math.Exp(-(l.M + l.S*rng.NormFloat64())))
		dst[i] = min(int(u*float64(l.Steps)), l.Steps-1)
	}
}

// String returns "logit-normal:M,S".
func (l LogitNormal) String() string { return "logit-normal:" + fmtFloat(l.M) + "," + fmtFloat(l.S) }

// DefaultModeScale is the scale s of Mode where a spec omits it, SD3's
// best "mode" setting (Esser et al. 2024, Table 1, mode(1.29)).
const DefaultModeScale = 1.29

// MaxModeScale is the largest scale for which Mode's map is monotone,
// 2/(π − 2); the smallest is −1.
const MaxModeScale = 2 / (math.Pi - 2)

// Mode is SD3's mode sampling with heavy tails (Esser et al. 2024, Eq. 20):
// u ~ U(0, 1) is mapped to
//
//	f(u; s) = 1 − u − s·(cos²(π·u/2) − 1 + u),
//
// and t = ⌊f(u)·T⌋ (clamped to T−1), the index whose flow time
// (i + 1)/T rounds f(u) up (diffusion's flow grid). s = 0 is uniform, s > 0
// favours the middle and s < 0 the ends. f is decreasing from f(0) = 1 to
// f(1) = 0 for −1 ≤ s ≤ MaxModeScale: f'(u) = −1 − s + s·(π/2)·sin(π·u).
type Mode struct {
	Steps int
	Scale float64
}

// T returns the number of timesteps.
func (m Mode) T() int { return m.Steps }

// f is the mode map f(u; s).
func (m Mode) f(u float64) float64 {
	c := math.Cos(math.Pi * u / 2)
	return 1 - u - m.Scale*(c*c-1+u)
}

// inverse returns the u in [0, 1] with f(u) = x for x in [0, 1], by
// bisection on the decreasing f to float64 resolution.
func (m Mode) inverse(x float64) float64 {
	lo, hi := 0.0, 1.0 // f(lo) ≥ x ≥ f(hi)
	for range 64 {
		mid := (lo + hi) / 2
		if mid == lo || mid == hi {
			break
		}
		if m.f(mid) >= x {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// PMF returns P(t) = F((t+1)/T) − F(t/T) with F(x) = P(f(u) < x) = 1 − f⁻¹(x).
func (m Mode) PMF() []float64 {
	p := make([]float64, m.Steps)
	cdf := func(t int) float64 {
		switch t {
		case 0:
			return 0
		case m.Steps:
			return 1
		}
		return 1 - m.inverse(float64(t)/float64(m.Steps))
	}
	for t := range p {
		p[t] = cdf(t+1) - cdf(t)
	}
	return p
}

// Sample fills dst with mode draws.
func (m Mode) Sample(rng *rand.Rand, dst []int) {
	for i := range dst {
		t := m.f(rng.Float64())
		dst[i] = max(0, min(int(t*float64(m.Steps)), m.Steps-1))
	}
}

// String returns "mode:S".
func (m Mode) String() string { return "mode:" + fmtFloat(m.Scale) }

// EDMLogNormal draws ln σ ~ N(PMean, PStd²) (Karras et al. 2022, defaults
// −1.2 and 1.2) and maps it to the timestep whose noise level
// σ_t = 1/√SNR_t = exp(−logSNR_t/2) is nearest in ln σ. LogSNR must be the
// schedule's log-SNR, strictly decreasing in t.
type EDMLogNormal struct {
	PMean, PStd float64
	LogSNR      []float64
}

// T returns the number of timesteps.
func (e EDMLogNormal) T() int { return len(e.LogSNR) }

// cuts returns the T−1 boundaries in ln σ between neighbouring timesteps.
func (e EDMLogNormal) cuts() []float64 {
	c := make([]float64, len(e.LogSNR)-1)
	for t := range c {
		c[t] = -(e.LogSNR[t] + e.LogSNR[t+1]) / 4 // midpoint of ln σ_t = −logSNR_t/2
	}
	return c
}

// PMF returns the normal mass of each timestep's ln σ interval.
func (e EDMLogNormal) PMF() []float64 {
	c := e.cuts()
	p := make([]float64, e.T())
	prev := 0.0
	for t := range p {
		next := 1.0
		if t < len(c) {
			next = normCDF((c[t] - e.PMean) / e.PStd)
		}
		p[t] = next - prev
		prev = next
	}
	return p
}

// Sample fills dst with EDM log-normal draws.
func (e EDMLogNormal) Sample(rng *rand.Rand, dst []int) {
	c := e.cuts()
	for i := range dst {
		ls := e.PMean + e.PStd*rng.NormFloat64()
		dst[i] = sort.SearchFloat64s(c, ls)
	}
}

// String returns "edm-lognormal:PMean,PStd".
func (e EDMLogNormal) String() string {
	return "edm-lognormal:" + fmtFloat(e.PMean) + "," + fmtFloat(e.PStd)
}

func normCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// DensityHelp lists the specs ParseDensity accepts.
const DensityHelp = `uniform                      every t equally likely
stratified:K                 K equal-width bins, one draw per bin in turn
range:LO,HI                  uniform on [LO, HI) only (fine-tuning on one bin)
logit-normal[:m,s]           t = ⌊T·sigmoid(m + s·z)⌋, default m=0, s=1 (SD3)
mode[:s]                     t = ⌊T·f(u; s)⌋, SD3's mode map, −1 ≤ s ≤ 1.75; default 1.29
edm-lognormal[:Pmean,Pstd]   ln σ ~ N(Pmean, Pstd²), nearest t; default −1.2, 1.2`

// ParseDensity reads a density spec (see DensityHelp) for a schedule of T
// steps whose log-SNR per timestep is logSNR (needed by edm-lognormal only;
// it must have length T and decrease strictly).
func ParseDensity(spec string, T int, logSNR []float64) (Density, error) {
	if T < 1 {
		return nil, fmt.Errorf("weighting: density %q: T must be ≥ 1, got %d", spec, T)
	}
	name, args, hasArgs := strings.Cut(strings.TrimSpace(spec), ":")
	var params []float64
	if hasArgs {
		for _, a := range strings.Split(args, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(a), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("weighting: density %q: parameter %q is not a finite number", spec, a)
			}
			params = append(params, v)
		}
	}
	pair := func(a, b float64) (float64, float64, error) {
		switch len(params) {
		case 0:
			return a, b, nil
		case 2:
			if params[1] <= 0 {
				return 0, 0, fmt.Errorf("weighting: density %q: the scale must be positive, got %g", spec, params[1])
			}
			return params[0], params[1], nil
		}
		return 0, 0, fmt.Errorf("weighting: density %q wants two parameters, got %d", spec, len(params))
	}
	switch name {
	case "uniform":
		if len(params) != 0 {
			return nil, fmt.Errorf("weighting: density %q takes no parameters", spec)
		}
		return Uniform{Steps: T}, nil
	case "stratified":
		if len(params) != 1 || params[0] != math.Trunc(params[0]) || params[0] < 1 || params[0] > float64(T) {
			return nil, fmt.Errorf("weighting: density %q wants stratified:K with an integer 1 ≤ K ≤ T=%d", spec, T)
		}
		return Stratified{Steps: T, K: int(params[0])}, nil
	case "range":
		if len(params) != 2 || params[0] != math.Trunc(params[0]) || params[1] != math.Trunc(params[1]) || params[0] < 0 || params[1] <= params[0] || params[1] > float64(T) {
			return nil, fmt.Errorf("weighting: density %q wants range:LO,HI with integers 0 ≤ LO < HI ≤ T=%d", spec, T)
		}
		return Range{Steps: T, Lo: int(params[0]), Hi: int(params[1])}, nil
	case "logit-normal":
		m, s, err := pair(0, 1)
		if err != nil {
			return nil, err
		}
		return LogitNormal{Steps: T, M: m, S: s}, nil
	case "mode":
		scale := DefaultModeScale
		switch len(params) {
		case 0:
		case 1:
			scale = params[0]
		default:
			return nil, fmt.Errorf("weighting: density %q wants at most one parameter, the scale", spec)
		}
		if scale < -1 || scale > MaxModeScale {
			return nil, fmt.Errorf("weighting: density %q: the scale must be in [−1, %.4g] for the mode map to be monotone, got %g", spec, MaxModeScale, scale)
		}
		return Mode{Steps: T, Scale: scale}, nil
	case "edm-lognormal":
		m, s, err := pair(-1.2, 1.2)
		if err != nil {
			return nil, err
		}
		if len(logSNR) != T {
			return nil, fmt.Errorf("weighting: density %q needs the schedule's %d log-SNR values, got %d", spec, T, len(logSNR))
		}
		for t := 1; t < T; t++ {
			if !(logSNR[t] < logSNR[t-1]) {
				return nil, fmt.Errorf("weighting: density %q: log-SNR must decrease strictly, but not at t=%d", spec, t)
			}
		}
		return EDMLogNormal{PMean: m, PStd: s, LogSNR: logSNR}, nil
	}
	return nil, fmt.Errorf("weighting: unknown density %q (want uniform, stratified:K, range:LO,HI, logit-normal:m,s, mode:s or edm-lognormal:Pmean,Pstd)", name)
}
