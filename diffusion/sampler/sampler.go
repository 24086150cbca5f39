package sampler

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/weighting"
)

// Sampler draws samples from a trained denoiser by integrating the reverse
// process from pure noise at the schedule's last timestep down to x̂0.
type Sampler interface {
	// Sample writes len(dst)/den.Dim() samples into dst, which is (N, D)
	// with D = den.Dim(). set may be nil (all defaults). It returns an error
	// for settings out of range, for an ε-prediction denoiser on a
	// zero-terminal schedule, and for a non-finite sample. The same rng
	// state, schedule, denoiser and settings give the same samples; the
	// batch size does not change them.
	Sample(dst []float32, den diffusion.Denoiser, sched *diffusion.Schedule, rng *rand.Rand, set *Settings) error
	// Timesteps returns the timesteps the sampler visits for a number of
	// steps (0 means its default), in the order it visits them.
	Timesteps(sched *diffusion.Schedule, set *Settings) ([]int, error)
	// Evaluations returns the number of denoiser calls per batch.
	Evaluations(sched *diffusion.Schedule, set *Settings) (int, error)
	// String returns the spec Parse reads back, such as "ddim:0.5".
	String() string
}

// Settings holds what all samplers share. The zero value (or a nil
// *Settings) means the documented defaults.
type Settings struct {
	// Steps is the number of timesteps visited: for DDPM and DDIM the length
	// of the respaced sequence, for Heun the number of σ grid points before
	// σ = 0 (EDM's num_steps), for FlowEuler and FlowHeun the number of
	// flow times visited before t = 0. Zero means the sampler's default: T
	// for DDPM, DefaultDDIMSteps for DDIM, DefaultHeunSteps for Heun,
	// DefaultFlowEulerSteps and DefaultFlowHeunSteps for the flow samplers.
	Steps int
	// Spacing chooses the respaced timesteps of DDPM, DDIM, FlowEuler and
	// FlowHeun (default Trailing). Heun always uses the Karras grid.
	Spacing Spacing
	// BatchSize is the number of rows given to the denoiser at once; zero
	// means DefaultBatchSize. It does not change the samples.
	BatchSize int
	// ClipX0, where positive, clamps every x̂0 to [−ClipX0, ClipX0] (DDPM's
	// clip_denoised; 1 for images scaled to [−1, 1]) and re-derives ε̂ from
	// the clamped x̂0 so that each update stays consistent. Zero: no clamp.
	ClipX0 float64
	// Progress, if not nil, is called after each denoiser call with the
	// number of calls made and the total, counted over all batches.
	Progress func(done, total int)
}

// Defaults of Settings.
const (
	// DefaultBatchSize is the number of rows per denoiser call.
	DefaultBatchSize = 512
	// DefaultDDIMSteps is DDIM's number of steps.
	DefaultDDIMSteps = 50
	// DefaultHeunSteps is Heun's number of grid points: EDM's CIFAR-10
	// setting (35 evaluations there; 34 here, as the first step from T−1
	// into the ramp is an Euler step).
	DefaultHeunSteps = 18
	// DefaultFlowEulerSteps is FlowEuler's number of steps (SD3 samples
	// with 28 to 50 Euler steps).
	DefaultFlowEulerSteps = 50
	// DefaultFlowHeunSteps is FlowHeun's number of flow times: 49
	// evaluations, as many as DefaultFlowEulerSteps Euler steps.
	DefaultFlowHeunSteps = 25
)

// ErrEpsAtZeroSNR is returned when an ε-prediction denoiser would be asked
// for x̂0 at α = 0, the last timestep of a zero-terminal schedule: there
// x̂0 = (x_t − σ ε̂)/α is undefined, the input carries no information about
// x0 and ε̂ = x_t is all an ε model can say (Lin et al. 2024, §3.2). Train
// such a model with v or x0 prediction, or sample from a schedule whose
// terminal SNR is not zero.
var ErrEpsAtZeroSNR = errors.New("sampler: ε-prediction is ill-posed at zero terminal SNR (α = 0); use v, flow or x0 prediction")

// Names lists the sampler names Parse accepts.
var Names = []string{"ddpm", "ddim", "heun", "flow-euler", "flow-heun"}

// Help lists the specs Parse accepts, one per line, for command help.
const Help = `ddpm[:beta]       ancestral sampling; variance β̃ (default) or β (VP schedules)
ddim[:η]          DDIM; η = 0 (default) deterministic, η = 1 is DDPM (VP schedules)
heun[:ρ[,σmax]]   EDM's Heun sampler on the Karras σ grid; ρ = 7, σ_max = 80 (inf: no cap)
flow-euler        Euler steps of the flow ODE dx/dt = u (flow schedule), 50 steps
flow-heun         Heun steps of the flow ODE dx/dt = u (flow schedule), 25 times, 49 calls`

// Parse reads a sampler spec: "ddpm", "ddpm:beta", "ddim", "ddim:η" (η in
// [0, 1]), "heun", "heun:ρ" or "heun:ρ,σ_max" (both positive; σ_max may be
// inf), "flow-euler" or "flow-heun". Parameters left out take their
// defaults (see Help).
func Parse(spec string) (Sampler, error) {
	name, arg, hasArg := strings.Cut(strings.TrimSpace(spec), ":")
	num := func() (float64, error) {
		v, err := strconv.ParseFloat(strings.TrimSpace(arg), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("sampler: %q: parameter %q is not a finite number", spec, arg)
		}
		return v, nil
	}
	switch name {
	case "ddpm":
		if !hasArg || arg == "beta-tilde" {
			return DDPM{}, nil
		}
		if arg == "beta" {
			return DDPM{Variance: Beta}, nil
		}
		return nil, fmt.Errorf("sampler: %q: variance must be beta or beta-tilde", spec)
	case "ddim":
		if !hasArg {
			return DDIM{}, nil
		}
		eta, err := num()
		if err != nil {
			return nil, err
		}
		if eta < 0 || eta > 1 {
			return nil, fmt.Errorf("sampler: %q: η must be in [0, 1], got %g", spec, eta)
		}
		return DDIM{Eta: eta}, nil
	case "heun":
		if !hasArg {
			return Heun{}, nil
		}
		parts := strings.Split(arg, ",")
		if len(parts) > 2 {
			return nil, fmt.Errorf("sampler: %q takes at most 2 parameters (ρ, σ_max)", spec)
		}
		var p [2]float64
		for i, a := range parts {
			v, err := strconv.ParseFloat(strings.TrimSpace(a), 64)
			if err != nil || math.IsNaN(v) || (i == 0 && math.IsInf(v, 0)) || v <= 0 {
				return nil, fmt.Errorf("sampler: %q: parameter %q must be a positive number (σ_max may be inf)", spec, a)
			}
			p[i] = v
		}
		return Heun{Rho: p[0], SigmaMax: p[1]}, nil
	case "flow-euler", "flow-heun":
		if hasArg {
			return nil, fmt.Errorf("sampler: %q takes no parameters", spec)
		}
		if name == "flow-euler" {
			return FlowEuler{}, nil
		}
		return FlowHeun{}, nil
	}
	return nil, fmt.Errorf("sampler: unknown sampler %q (want ddpm, ddim, heun, flow-euler or flow-heun)", spec)
}

// defaults fills in the zero fields of a copy of set.
func defaults(set *Settings, defaultSteps int) Settings {
	var s Settings
	if set != nil {
		s = *set
	}
	if s.Steps == 0 {
		s.Steps = defaultSteps
	}
	if s.BatchSize == 0 {
		s.BatchSize = DefaultBatchSize
	}
	return s
}

func (s *Settings) check() error {
	if s.BatchSize < 0 {
		return fmt.Errorf("sampler: batch size %d is negative", s.BatchSize)
	}
	if s.Steps < 0 {
		return fmt.Errorf("sampler: %d steps is negative", s.Steps)
	}
	if s.ClipX0 < 0 || math.IsNaN(s.ClipX0) {
		return fmt.Errorf("sampler: ClipX0 %g must be ≥ 0", s.ClipX0)
	}
	return nil
}

// batch is the working state of one batch of rows.
type batch struct {
	den      diffusion.Denoiser
	sched    *diffusion.Schedule
	clip     float64
	rows     []*rand.Rand // one generator per row, (B)
	x        []float32    // (B, D) the current state
	pred     []float32    // (B, D) the raw denoiser output
	x0       []float32    // (B, D) x̂0 of the last evaluation
	eps      []float32    // (B, D) ε̂ of the last evaluation
	t        []int        // (B)
	progress func()
}

// run is the driver every sampler shares. It checks the shapes and
// settings, draws one independent PCG generator per row from rng (so that a
// row's noise does not depend on the batch size), and calls body once per
// batch with the batch's state; body must leave its samples in b.x.
func run(dst []float32, den diffusion.Denoiser, sched *diffusion.Schedule, rng *rand.Rand,
	set Settings, first, evals int, body func(b *batch) error) error {
	D := den.Dim()
	if D <= 0 || len(dst)%D != 0 {
		panic(fmt.Sprintf("sampler: len(dst) = %d is not a multiple of the denoiser's dimension %d", len(dst), D))
	}
	if err := sched.CheckTarget(den.Target()); err != nil {
		return fmt.Errorf("sampler: %w", err)
	}
	if den.Target() == weighting.Eps && sched.Alpha(first) == 0 {
		return ErrEpsAtZeroSNR
	}
	N := len(dst) / D
	seeds := make([]uint64, 2*N) // every row's PCG seed, drawn up front
	for i := range seeds {
		seeds[i] = rng.Uint64()
	}
	B := min(set.BatchSize, N)
	b := &batch{
		den: den, sched: sched, clip: set.ClipX0,
		rows: make([]*rand.Rand, B),
		pred: make([]float32, B*D), x0: make([]float32, B*D), eps: make([]float32, B*D),
		t: make([]int, B),
	}
	nb := (N + B - 1) / max(B, 1)
	done, total := 0, nb*evals
	if set.Progress != nil {
		b.progress = func() { done++; set.Progress(done, total) }
	}
	for lo := 0; lo < N; lo += B {
		hi := min(lo+B, N)
		n := hi - lo
		b.rows = b.rows[:n]
		for r := range b.rows {
			b.rows[r] = rand.New(rand.NewPCG(seeds[2*(lo+r)], seeds[2*(lo+r)+1]))
		}
		b.x = dst[lo*D : hi*D]
		b.pred, b.x0, b.eps, b.t = b.pred[:n*D], b.x0[:n*D], b.eps[:n*D], b.t[:n]
		if err := body(b); err != nil {
			return err
		}
	}
	for i, v := range dst {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("sampler: sample %d has a non-finite value %v (does the denoiser output NaN or Inf?)", i/D, v)
		}
	}
	return nil
}

// noise writes a standard normal vector into dst, row by row from each row's
// own generator. dst is (B, D).
func (b *batch) noise(dst []float32) {
	D := len(dst) / len(b.rows)
	for r, g := range b.rows {
		row := dst[r*D : (r+1)*D]
		for i := range row {
			row[i] = float32(g.NormFloat64())
		}
	}
}

// eval calls the denoiser at x_t (B, D), all rows at timestep t, and leaves
// x̂0 in b.x0 and ε̂ in b.eps, clamping x̂0 where ClipX0 asks.
func (b *batch) eval(xt []float32, t int) {
	for i := range b.t {
		b.t[i] = t
	}
	b.den.Predict(b.pred, xt, b.t)
	alpha, sigma := b.sched.Alpha(t), b.sched.Sigma(t)
	tg := b.den.Target()
	diffusion.ToX0(b.x0, tg, b.pred, xt, alpha, sigma)
	if b.clip > 0 {
		c := float32(b.clip)
		for i, v := range b.x0 {
			b.x0[i] = max(-c, min(c, v))
		}
		diffusion.ToEps(b.eps, weighting.X0, b.x0, xt, alpha, sigma)
	} else {
		diffusion.ToEps(b.eps, tg, b.pred, xt, alpha, sigma)
	}
	if b.progress != nil {
		b.progress()
	}
}

// needVP returns an error naming the sampler unless the schedule is
// variance preserving: DDPM and DDIM are written in ᾱ (β_t, √(1 − ᾱ)), which
// describe no step of the flow schedule.
func needVP(name string, sched *diffusion.Schedule) error {
	if sched.VariancePreserving() {
		return nil
	}
	return errorf("%s needs a variance-preserving schedule, not %s; sample it with flow-euler, flow-heun or heun", name, sched)
}

// needFlow returns an error naming the sampler unless the schedule is the
// flow schedule, whose ODE dx/dt = ε − x0 the flow samplers integrate.
func needFlow(name string, sched *diffusion.Schedule) error {
	if !sched.VariancePreserving() {
		return nil
	}
	return errorf("%s integrates the flow ODE dx/dt = u of the flow schedule x_t = (1 − t)x0 + t·ε, not %s; sample a VP schedule with ddpm, ddim or heun", name, sched)
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("sampler: "+format, args...)
}
