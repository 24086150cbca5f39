package learned

import (
	"errors"
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/weighting"
)

// History is a learned run's u over training: its weighting, schedule and
// seed (which fix the model of u), the model's target (which fixes the
// loss u divides, Config.BaseWeight), and u's parameters at recorded
// steps.
type History struct {
	Config   Config
	Schedule *diffusion.Schedule
	Target   weighting.Target
	Seed     uint64
	// Steps are the recorded steps, increasing, and Params u's parameters
	// there (Model.Params; diffusion.Metrics.PassParams).
	Steps  []int
	Params [][]float64
}

// ErrNotLearned is wrapped by HistoryOf's error for a run whose weighting
// is not a learned one.
var ErrNotLearned = errors.New("not a learned weighting")

// HistoryOf reads a learned run's history from its training spec and its
// metrics records; records without u's parameters are skipped.
func HistoryOf(spec diffusion.TrainSpec, recs []diffusion.Metrics) (History, error) {
	cfg, err := Parse(spec.Weighting)
	if err != nil {
		return History{}, fmt.Errorf("learned: %q: %w", spec.Weighting, ErrNotLearned)
	}
	sched, target, err := spec.ScheduleAndTarget()
	if err != nil {
		return History{}, fmt.Errorf("learned: %w", err)
	}
	h := History{Config: cfg, Schedule: sched, Target: target, Seed: spec.Seed}
	for _, r := range recs {
		if r.PassParams != nil {
			h.Steps = append(h.Steps, r.Step)
			h.Params = append(h.Params, r.PassParams)
		}
	}
	return h, nil
}

// Probes are gradient-conflict probes of the same run (a probe log's Info
// and records, conflict.ReadLog), whose Pareto weights a Comparison puts
// next to the learned ones at the same steps.
type Probes struct {
	Info    conflict.Info
	Records []conflict.Record
}

// DefaultClosed are the closed forms a Comparison draws when the caller
// names none: constant (the unweighted x0 loss, where u starts), snr (the
// ε-MSE), min-snr:5 and max-snr:1 (truncated SNR).
var DefaultClosed = []weighting.Strategy{
	weighting.Constant{}, weighting.SNR{}, weighting.MinSNR{Gamma: weighting.DefaultGamma}, weighting.MaxSNR{Gamma: 1},
}

// Comparison is a learned run's effective weights per bin over training
// next to the closed forms and the Pareto weights of the same model. All
// weights are on the bins' task losses (the x0-MSE unless the probes'
// task says otherwise), normalised to sum to 1 over the bins as
// conflict.BinWeights normalises the closed forms: with timesteps drawn
// uniformly, bin k's learned weight is W_k ∝ Σ_{t∈k} b(t)·e^{−u(t)}/r(t),
// b·e^{−u} the effective weight on the x0 loss (Config.X0Weight: b is the
// target's loss scale, SNR for ε, by default) and r the task's x0 weight
// (1 for the x0-MSE).
type Comparison struct {
	// Weighting is the learned weighting's spec and Task the task loss's
	// ("constant": the x0-MSE). Divides names the loss u divides and its
	// weight b on the x0 loss, such as "the eps-MSE (b = SNR)".
	Weighting, Task, Divides string
	// Bins are the bins compared on: the probes' when there are probes,
	// else the learned bins (t:DefaultBins for the Fourier model).
	Bins weighting.Bins
	// Steps are the recorded steps; U[i][k] is the mean of u over bin k's
	// timesteps at Steps[i] and Learned[i][k] the normalised learned
	// weight.
	Steps   []int
	U       [][]float64
	Learned [][]float64
	// Closed are the closed forms and Pareto the probes' solvers.
	Closed []ClosedWeights
	Pareto []ParetoWeights
}

// ClosedWeights is one closed form's normalised bin weights (they do not
// change over training) and their distance from the learned weights at
// every step of the Comparison.
type ClosedWeights struct {
	Name string
	W    []float64
	// TV[i] is TotalVariation(Learned[i], W).
	TV []float64
}

// ParetoWeights are one solver's Pareto weights at the probe steps that
// have a learned record, and their distance from the learned weights
// there.
type ParetoWeights struct {
	Method string
	// Steps are the probe steps, Index[j] the position of Steps[j] in the
	// Comparison's Steps, W[j] the weights and TV[j] their distance from
	// Learned[Index[j]].
	Steps []int
	Index []int
	W     [][]float64
	TV    []float64
}

// TotalVariation returns ½·Σ_k |a_k − b_k|, the distance of two weightings
// normalised to sum 1: the fraction of the weight that one puts elsewhere
// than the other, 0 for equal weights and 1 for disjoint ones. Unlike a
// log-ratio it is finite where a Pareto solution puts no weight on a bin.
func TotalVariation(a, b []float64) float64 {
	var s float64
	for k := range a {
		s += math.Abs(a[k] - b[k])
	}
	return s / 2
}

// Compare builds the Comparison of a learned run's history with the closed
// forms (nil: DefaultClosed) and, when probes is not nil, the Pareto
// weights of its probes at the steps recorded in both.
func Compare(h History, probes *Probes, closed []weighting.Strategy) (*Comparison, error) {
	if len(h.Steps) == 0 || len(h.Steps) != len(h.Params) {
		return nil, fmt.Errorf("learned: no record of u to compare (%d steps, %d parameter sets)", len(h.Steps), len(h.Params))
	}
	if closed == nil {
		closed = DefaultClosed
	}
	bins, task, err := compareBins(h, probes)
	if err != nil {
		return nil, err
	}
	c := &Comparison{Weighting: h.Config.String(), Task: task.String(), Divides: divides(h.Config, h.Target), Bins: bins, Steps: h.Steps}
	if err := c.addLearned(h, task); err != nil {
		return nil, err
	}
	for _, s := range closed {
		w := conflict.BinWeights(s, task, h.Schedule, bins)
		cw := ClosedWeights{Name: s.String(), W: w}
		for _, l := range c.Learned {
			cw.TV = append(cw.TV, TotalVariation(l, w))
		}
		c.Closed = append(c.Closed, cw)
	}
	if probes != nil {
		c.addPareto(probes.Records)
	}
	return c, nil
}

// divides names the loss u divides, with its weight b on the x0 loss.
func divides(c Config, target weighting.Target) string {
	switch {
	case c.Base == weighting.Constant{}:
		return "the x0-MSE (b = 1)"
	case c.Base != nil:
		return "the " + c.Base.String() + "-weighted x0-MSE (b = " + c.Base.String() + ")"
	}
	b := map[weighting.Target]string{weighting.Eps: "SNR", weighting.V: "SNR + 1", weighting.X0: "1", weighting.Flow: "(1 + √SNR)²"}[target]
	return "the model's own loss, the " + target.String() + "-MSE (b = " + b + ")"
}

// compareBins returns the bins and the task loss of a comparison: the
// probes' when given, else the learned weighting's bins and the x0-MSE.
func compareBins(h History, probes *Probes) (weighting.Bins, weighting.Strategy, error) {
	T := h.Schedule.T()
	if probes == nil {
		spec := h.Config.Bins
		if h.Config.Fourier > 0 {
			spec = weighting.BinsSpec{Kind: "t", K: DefaultBins}
		}
		bins, err := spec.Bins(h.Schedule.LogSNRs())
		if err != nil {
			return weighting.Bins{}, nil, fmt.Errorf("learned: %w", err)
		}
		return bins, weighting.Constant{}, nil
	}
	bins := probes.Info.Bins()
	if bins.K() < 1 || bins.T() != T {
		return weighting.Bins{}, nil, fmt.Errorf("learned: the probes' bins cover %d timesteps, the run's schedule %d", bins.T(), T)
	}
	var task weighting.Strategy = weighting.Constant{}
	if probes.Info.Task != "" {
		s, err := weighting.ParseStrategy(probes.Info.Task)
		if err != nil {
			return weighting.Bins{}, nil, fmt.Errorf("learned: the probes' task loss: %w", err)
		}
		task = s
	}
	return bins, task, nil
}

// addLearned fills U and Learned from the history's parameters.
func (c *Comparison) addLearned(h History, task weighting.Strategy) error {
	m, err := h.Config.Model(h.Schedule, h.Seed)
	if err != nil {
		return err
	}
	theta := m.Params()
	for i, p := range h.Params {
		if len(p) != len(theta) {
			return fmt.Errorf("learned: step %d records %d parameters of u, %s has %d", h.Steps[i], len(p), h.Config, len(theta))
		}
		copy(theta, p)
		u := make([]float64, c.Bins.K())
		for k := range u {
			lo, hi := c.Bins.Range(k)
			for t := lo; t < hi; t++ {
				u[k] += m.U(t) / float64(hi-lo)
			}
		}
		c.U = append(c.U, u)
		c.Learned = append(c.Learned, conflict.BinWeightsOf(func(t int) float64 {
			snr := h.Schedule.SNR(t)
			return h.Config.X0Weight(h.Target, m.U(t), snr) / weighting.Weight(task, weighting.X0, snr)
		}, c.Bins))
	}
	return nil
}

// addPareto adds every solver's weights at the probe steps that have a
// learned record.
func (c *Comparison) addPareto(recs []conflict.Record) {
	at := map[int]int{}
	for i, s := range c.Steps {
		at[s] = i
	}
	byMethod := map[string]int{}
	for _, r := range recs {
		i, ok := at[r.Step]
		if !ok {
			continue
		}
		for _, sol := range r.Solutions {
			if len(sol.W) != c.Bins.K() {
				continue
			}
			j, ok := byMethod[sol.Method]
			if !ok {
				j = len(c.Pareto)
				byMethod[sol.Method] = j
				c.Pareto = append(c.Pareto, ParetoWeights{Method: sol.Method})
			}
			p := &c.Pareto[j]
			p.Steps, p.Index = append(p.Steps, r.Step), append(p.Index, i)
			p.W = append(p.W, sol.W)
			p.TV = append(p.TV, TotalVariation(c.Learned[i], sol.W))
		}
	}
}
