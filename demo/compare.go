package demo

import (
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/pareto"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// compare solves the last probe's problem with λ and evaluates every
// weighting on it: the probe's Pareto solutions (λ = 0), those with λ,
// then the closed forms.
func (r *Result) compare(closed []Weighting) error {
	final := r.Final()
	g := final.Gram
	r.Lambda = conflict.RelativeLambda(g, r.Sizes.Lambda)
	withL, err := conflict.SolveConfig{Methods: conflict.DefaultMethods, Lambda: r.Lambda}.Solve(g, final.Losses)
	if err != nil {
		return err
	}
	r.Weightings = nil
	for _, s := range final.Solutions {
		r.Weightings = append(r.Weightings, Weighting{Name: s.Method, Pareto: true, W: s.W})
	}
	for _, s := range withL {
		r.Weightings = append(r.Weightings, Weighting{Name: s.Method + lambdaSuffix, Pareto: true, Lambda: r.Lambda, W: s.W})
	}
	r.Weightings = append(r.Weightings, closed...)
	if err := r.evaluate(g); err != nil {
		return err
	}
	ref := r.Weighting("fw" + lambdaSuffix)
	if ref == nil {
		return fmt.Errorf("demo: no fw solution with λ to compare with")
	}
	refW := ref.W
	for i := range r.Weightings {
		w := &r.Weightings[i]
		w.TV = floats.Distance(w.W, refW, 1) / 2
	}
	return nil
}

// evaluate sets every weighting's objectives on the problem of Gram g at
// λ = 0 and at r.Lambda, their ratios to the best Pareto solve, and its
// Eq. 8 check; W becomes the evaluated (normalised) weights.
func (r *Result) evaluate(g mat.Symmetric) error {
	p0, err := pareto.NewFromGram(g, pareto.Config{})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	pL, err := p0.WithLambda(r.Lambda)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	opt0, optL := math.Inf(1), math.Inf(1)
	for i := range r.Weightings {
		w := &r.Weightings[i]
		e0, err := p0.Evaluate(w.W)
		if err != nil {
			return fmt.Errorf("demo: %s: %w", w.Name, err)
		}
		eL, err := pL.Evaluate(w.W)
		if err != nil {
			return fmt.Errorf("demo: %s: %w", w.Name, err)
		}
		w.W, w.F0, w.FL, w.Descent = e0.W, e0.Objective, eL.Objective, e0.Descent
		if w.Pareto && w.Lambda == 0 {
			opt0 = math.Min(opt0, w.F0)
		}
		if w.Pareto && w.Lambda > 0 {
			optL = math.Min(optL, w.FL)
		}
	}
	for i := range r.Weightings {
		w := &r.Weightings[i]
		w.Ratio0, w.RatioL = w.F0/opt0, w.FL/optL
	}
	return nil
}
