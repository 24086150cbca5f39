package reproduce

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/paretodiff/paretodiff/run"
)

// OnlineStrategies are the online Pareto weightings the `online` target
// trains against min-SNR-5 and constant (and that the cross-trained
// analyses of fig3, fig4 and conflict probe as further training
// weightings): Frank-Wolfe (MGDA's solver) and the paper's UGD on the
// Pareto problem of Eq. 11 over 8 equal-width timestep bins of each step's
// own batch, solved every step. The bins' gradients are normalised to unit
// length (norm=l2), which makes λ = 0.1 scale-free: a tenth of a
// normalised task's squared norm, the same on every data set and target.
var OnlineStrategies = []string{
	"pareto:fw,lambda=0.1,bins=8,norm=l2",
	"pareto:ugd,lambda=0.1,bins=8,norm=l2",
}

// onlineComparators are the closed forms the online weightings are
// compared with: the paper's proposal and the unweighted x0 loss.
var onlineComparators = []string{fig5MinSNR, "constant"}

// onlineCostSteps is the length of each timed run of the side-by-side
// cost measurement.
var onlineCostSteps = map[Scale]int{Smoke: 10, Quick: 200, Medium: 200, Paper: 200}

// onlineCostRounds is how many times each strategy is timed, alternating,
// so that a change of the machine's load hits all of them alike.
const onlineCostRounds = 3

// OnlineResult is what the online target measured: the models trained
// with each online weighting and with each comparator on PrimaryTarget,
// the measured cost of an online step, and the comparisons at equal steps
// and at equal wall-clock time.
type OnlineResult struct {
	// Scale and Sizes are the run's.
	Scale Scale
	Sizes ModelSizes
	// Grid holds the models: PrimaryTarget × (OnlineStrategies, then
	// min-SNR-5 and constant) × seeds.
	Grid *ModelGrid
	// Cost[j] is the wall time of a training step of OnlineStrategies[j]
	// over that of min-SNR-5 (the same network, data and batch), measured
	// side by side on this machine.
	Cost []float64
	// EqualSteps[j][c] compares OnlineStrategies[j] with
	// onlineComparators[c] at the last step; EqualTime[j][c] compares the
	// online model at step Steps/Cost[j] (its quality curve interpolated)
	// with the comparator at the last step. Both paired by seed, on the
	// quality curves' values (sample set 0).
	EqualSteps, EqualTime [][]Comparison
}

// Online trains (or takes from the cache) the online target's models,
// measures the cost of an online step and compares the online weightings
// with the closed forms at equal steps and at equal time. It writes
// nothing into the target's folder (Render does).
func Online(ctx context.Context, env *Env) (*OnlineResult, error) {
	grid := onlineGrid(env)
	g, err := grid.train(ctx, env, "online")
	if err != nil {
		return nil, err
	}
	env.Logf("online: timing %d steps of each weighting side by side, %d rounds", onlineCostSteps[env.Scale], onlineCostRounds)
	cost, err := onlineCost(ctx, env, grid.Sizes)
	if err != nil {
		return nil, err
	}
	return onlineOf(g, cost, env.Scale), nil
}

// onlineGrid is the online target's grid (its plan and its Compute): the
// probe target's (PrimaryTarget's) models with the online weightings and
// their comparators, the probed models fig3, fig4 and conflict analyse.
func onlineGrid(env *Env) gridPlan {
	return probedGrid(env, append(slices.Clone(OnlineStrategies), onlineComparators...))
}

// planOnline is the online target's runs: its grid (the timed runs of the
// cost measurement are not cached).
func planOnline(env *Env) ([]CacheRun, error) { return onlineGrid(env).plan(env) }

// onlineOf compares the online weightings on a trained grid, given their
// measured step costs.
func onlineOf(g *ModelGrid, cost []float64, scale Scale) *OnlineResult {
	r := &OnlineResult{Scale: scale, Sizes: g.Sizes, Grid: g, Cost: cost}
	S := float64(g.Sizes.Steps)
	for j, on := range OnlineStrategies {
		var eqS, eqT []Comparison
		for _, c := range onlineComparators {
			eqS = append(eqS, compareAt(g, on, S, c))
			eqT = append(eqT, compareAt(g, on, S/cost[j], c))
		}
		r.EqualSteps, r.EqualTime = append(r.EqualSteps, eqS), append(r.EqualTime, eqT)
	}
	return r
}

// compareAt compares the online strategy's quality at step (interpolated
// on each seed's curve) with the comparator's at the last step, paired by
// seed on PrimaryTarget.
func compareAt(g *ModelGrid, online string, step float64, comparator string) Comparison {
	var a, b []float64
	for _, sd := range g.SeedsOf(PrimaryTarget) {
		a = append(a, QualityAt(g.Model(PrimaryTarget, online, sd), step))
		b = append(b, QualityAt(g.Model(PrimaryTarget, comparator, sd), float64(g.Sizes.Steps)))
	}
	c := Comparison{Best: comparator, Mine: meanOf(a), Them: meanOf(b)}
	c.Diff, c.SE = pairedSE(a, b)
	return c
}

// QualityAt is a model's sample quality at a step, linearly interpolated
// between its evaluations (NaN before the first one or after the last).
func QualityAt(m *TrainedModel, step float64) float64 {
	q := m.Quality
	for i := range q {
		s := float64(q[i].Step)
		switch {
		case s == step:
			return q[i].Value
		case s > step && i > 0:
			p := q[i-1]
			f := (step - float64(p.Step)) / (s - float64(p.Step))
			return p.Value + f*(q[i].Value-p.Value)
		case s > step:
			return math.NaN()
		}
	}
	return math.NaN()
}

// onlineCost times short runs of min-SNR-5 and of each online weighting
// (the primary target's model of the scale, seed 1, no evaluations),
// alternating them onlineCostRounds times, and returns each online
// weighting's total time over min-SNR-5's. The runs are written in a
// temporary folder, removed afterwards.
func onlineCost(ctx context.Context, env *Env, sizes ModelSizes) ([]float64, error) {
	tmp, err := os.MkdirTemp("", "paretodiff-online-cost-*")
	if err != nil {
		return nil, fmt.Errorf("reproduce: %w", err)
	}
	defer os.RemoveAll(tmp)
	all := append([]string{fig5MinSNR}, OnlineStrategies...)
	secs := make([]float64, len(all))
	opt := env.runOptions(0)
	opt.Existing, opt.Log = run.Replace, nil
	for round := range onlineCostRounds {
		for i, st := range all {
			s := sizes.Model(PrimaryTarget, st, 1, 1)
			s.Steps, s.Eval, s.Probes = onlineCostSteps[env.Scale], run.EvalSpec{Every: onlineCostSteps[env.Scale]}, nil
			r, err := run.Train(ctx, fmt.Sprintf("%s/%d-%d", tmp, round, i), s, opt)
			if err != nil {
				return nil, err
			}
			secs[i] += r.TrainTime.Seconds()
		}
	}
	out := make([]float64, len(OnlineStrategies))
	for j := range out {
		out[j] = secs[j+1] / secs[0]
	}
	return out, nil
}
