package reproduce

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// FineTuneConfig configures FineTune.
type FineTuneConfig struct {
	// Lo and Hi bound the timesteps trained on, [Lo, Hi); 0 and T for all.
	Lo, Hi int
	// Steps and Batch size the run; LR is AdamW's constant learning rate
	// (no warm-up, the base run's clipping; the moments start at zero).
	Steps, Batch int
	LR           float64
	// Seed seeds the run's batches.
	Seed uint64
}

// FineTune continues training a copy of a model's EMA weights on
// timesteps drawn uniformly from [Lo, Hi) only (density range:Lo,Hi), with
// the model's target, weighting and clipping and a fresh AdamW, and
// returns the fine-tuned network (its raw weights) on env's backend. It is
// the intervention of the paper's Fig. 2. The fine-tune is a run (package
// run, Spec.Init) cached beside the model, so that a second call trains
// nothing.
func FineTune(ctx context.Context, env *Env, base *TrainedModel, cfg FineTuneConfig) (nn.Network, error) {
	c, err := fineTuneRun(base.Spec, filepath.Base(base.Dir), cfg)
	if err != nil {
		return nil, err
	}
	return fineTuned(ctx, env, c)
}

// fineTuned trains (or finds in the cache) a fine-tune and returns its
// network (raw weights) on env's backend.
func fineTuned(ctx context.Context, env *Env, c CacheRun) (nn.Network, error) {
	r, _, err := c.train(ctx, env)
	if err != nil {
		return nil, err
	}
	ck, err := r.Checkpoint()
	if err != nil {
		return nil, err
	}
	return ck.Network(env.BackendOrCPU(), false)
}

// GridTimesteps returns n timesteps spread evenly over 0..T−1: the middle
// of each of n equal parts, ⌊(i + ½)·T/n⌋.
func GridTimesteps(T, n int) []int {
	if n < 1 || n > T {
		panic(fmt.Sprintf("reproduce: GridTimesteps: %d points on T=%d", n, T))
	}
	ts := make([]int, n)
	for i := range ts {
		ts[i] = int((float64(i) + 0.5) * float64(T) / float64(n))
	}
	return ts
}

// LossProbe is a fixed set of noised examples: PerT examples (x0, ε) at
// each of Timesteps, drawn once, so that several networks are compared on
// exactly the same inputs and their differences are paired.
type LossProbe struct {
	// Timesteps are the timesteps probed and PerT the examples at each.
	Timesteps []int
	PerT      int
	batches   []diffusion.Batch // one per timestep, (PerT, D) each
}

// NewLossProbe draws the examples from data with rand.NewPCG(seed, 0):
// for each timestep in turn the data, then the noise.
func NewLossProbe(data diffusion.Dataset, timesteps []int, perT int, seed uint64) *LossProbe {
	rng := rand.New(rand.NewPCG(seed, 0))
	p := &LossProbe{Timesteps: append([]int(nil), timesteps...), PerT: perT}
	for _, t := range timesteps {
		b := diffusion.DrawRange(rng, data, t, t+1, perT)
		p.batches = append(p.batches, b)
	}
	return p
}

// Losses returns the unweighted x0-MSE (1/D)·‖x0 − x̂0‖² of every example
// for a network predicting target: (len(Timesteps), PerT). It runs forward
// passes only.
func (p *LossProbe) Losses(net nn.Network, sched *diffusion.Schedule, target weighting.Target) [][]float64 {
	obj := diffusion.NewObjective(net, sched, target)
	out := make([][]float64, len(p.batches))
	c := make([]float64, p.PerT)
	for i, b := range p.batches {
		mse := make([]float64, p.PerT)
		obj.Loss(b, c, mse, false)
		u := obj.X0Scale(p.Timesteps[i])
		for j := range mse {
			mse[j] *= u
		}
		out[i] = mse
	}
	return out
}

// LossChange is the change of the loss at one timestep between two
// networks evaluated on the same examples.
type LossChange struct {
	// T is the timestep; Before and After the mean x0-MSE there.
	T             int
	Before, After float64
	// Rel is (After − Before)/Before and SE its standard error from the
	// paired per-example differences: sd(after − before)/(√n·Before).
	Rel, SE float64
}

// LossChanges compares per-example losses (as LossProbe.Losses gives them)
// before and after an intervention.
func LossChanges(timesteps []int, before, after [][]float64) []LossChange {
	out := make([]LossChange, len(timesteps))
	for i, t := range timesteps {
		b, a := before[i], after[i]
		if len(a) != len(b) {
			panic("reproduce: LossChanges: unpaired examples")
		}
		d := make([]float64, len(a))
		for j := range d {
			d[j] = a[j] - b[j]
		}
		mb, _ := meanSD(b)
		ma, _ := meanSD(a)
		md, sd := meanSD(d)
		out[i] = LossChange{T: t, Before: mb, After: ma, Rel: md / mb, SE: sd / math.Sqrt(float64(len(d))) / mb}
	}
	return out
}

// Smooth returns the centred moving average of v over 2h+1 points (fewer
// at the ends, where the window is cut).
func Smooth(v []float64, h int) []float64 {
	out := make([]float64, len(v))
	for i := range v {
		lo, hi := max(0, i-h), min(len(v), i+h+1)
		s := 0.0
		for _, x := range v[lo:hi] {
			s += x
		}
		out[i] = s / float64(hi-lo)
	}
	return out
}

// StepsToReach returns the first step whose value (lower is better) is at
// most threshold, and false if none is.
func StepsToReach(steps, values []float64, threshold float64) (float64, bool) {
	for i, v := range values {
		if v <= threshold {
			return steps[i], true
		}
	}
	return math.NaN(), false
}

// SpeedUp compares how fast a curve reaches a baseline's final quality.
type SpeedUp struct {
	// Threshold is the baseline's final value (smoothed).
	Threshold float64
	// BaseSteps and Steps are the first steps at which the baseline and the
	// compared curve reach it (Steps is NaN if it never does).
	BaseSteps, Steps float64
	// Ratio is BaseSteps/Steps: how many times fewer steps the compared
	// curve needs. If it never reaches the threshold, Ratio is the bound
	// BaseSteps/(last step) and Bound is "<"; if it reaches it at its first
	// evaluation, the true ratio may be larger and Bound is "≥"; else "".
	Ratio float64
	Bound string
}

// String writes the ratio with its bound, as "≥ 5×", "1.5×" or "< 0.8×".
func (s SpeedUp) String() string {
	b := s.Bound
	if b != "" {
		b += " "
	}
	return b + strconv.FormatFloat(s.Ratio, 'g', 3, 64) + "×"
}

// SpeedUpOver measures how many times faster the curve values reaches the
// final quality of the curve base, both given at the same steps (lower is
// better), after smoothing both over 2h+1 evaluations (Smooth): the
// paper's "converges N× faster". It is SpeedUpAt at base's last step.
func SpeedUpOver(steps, values, base []float64, h int) SpeedUp {
	if len(steps) == 0 {
		panic("reproduce: SpeedUpOver: empty curves")
	}
	return SpeedUpAt(steps, values, base, h, steps[len(steps)-1])
}

// SpeedUpAt measures how many times fewer steps the curve values needs
// than the curve base to reach the quality base has at step at (the first
// evaluation at or after it), both smoothed over 2h+1 evaluations: with at
// = ¾ of training, the steps-to-a-fixed-quality speed-up of the paper's
// Fig. 5 at a quality every strategy can reach before the end.
func SpeedUpAt(steps, values, base []float64, h int, at float64) SpeedUp {
	if len(steps) != len(values) || len(steps) != len(base) || len(steps) == 0 {
		panic("reproduce: SpeedUpAt: curves of different lengths")
	}
	sv, sb := Smooth(values, h), Smooth(base, h)
	k := len(steps) - 1
	for i, st := range steps {
		if st >= at {
			k = i
			break
		}
	}
	thr := sb[k]
	bs, _ := StepsToReach(steps, sb, thr)
	s := SpeedUp{Threshold: thr, BaseSteps: bs}
	st, ok := StepsToReach(steps, sv, thr)
	s.Steps = st
	switch {
	case !ok:
		s.Ratio, s.Bound = bs/steps[len(steps)-1], "<"
	default:
		s.Ratio = bs / st
		if st == steps[0] && bs > st {
			s.Bound = "≥"
		}
	}
	return s
}

// Regrets returns, for values[s][r] of strategies s in ranges r (lower is
// better), values[s][r]/min_s' values[s'][r] − 1: how much worse than the
// best strategy each one is in each range.
func Regrets(values [][]float64) [][]float64 {
	if len(values) == 0 {
		return nil
	}
	R := len(values[0])
	best := make([]float64, R)
	for r := range best {
		best[r] = math.Inf(1)
		for s := range values {
			best[r] = math.Min(best[r], values[s][r])
		}
	}
	out := make([][]float64, len(values))
	for s := range values {
		out[s] = make([]float64, R)
		for r := range best {
			out[s][r] = values[s][r]/best[r] - 1
		}
	}
	return out
}
