package analyze

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/mtl"
)

// Analyze reads the probe log in dir and computes its Result (see the
// package doc): every error is one of bad input (the log cannot be read, is
// not one, or holds a probe without a finite Gram matrix) or of a method
// that fails on a probe, and nothing is written.
func Analyze(dir string, c Config) (*Result, error) {
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("analyze: %s is not a folder (want a probe log folder holding %s and %s)", dir, conflict.InfoFile, conflict.RecordsFile)
	}
	if hint := runFolderHint(dir); hint != "" {
		return nil, fmt.Errorf("analyze: %s is a run folder, not a probe log: give %s", dir, hint)
	}
	info, recs, err := conflict.ReadLog(dir)
	if err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	if err := checkGrams(recs); err != nil {
		return nil, err
	}
	cfg, err := c.resolve(info)
	if err != nil {
		return nil, err
	}
	res := &Result{Dir: dir, Info: info, Records: recs, Methods: cfg.methods, Normalizer: cfg.normalizer, LambdaRule: cfg.lambda.String()}
	if err := res.closedForms(cfg.closed); err != nil {
		return nil, err
	}
	for i := range res.Records {
		res.Records[i].Stats = conflict.Summarize(res.Records[i].Gram)
	}
	if err := res.solve(cfg); err != nil {
		return nil, err
	}
	if err := res.tables(cfg); err != nil {
		return nil, err
	}
	return res, nil
}

// runFolderHint returns, for a run folder without a log of its own (no
// InfoFile, but probe logs under probes/), the logs it holds; else "".
func runFolderHint(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, conflict.InfoFile)); err == nil {
		return ""
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "probes", "*", conflict.InfoFile))
	var names []string
	for _, l := range logs {
		names = append(names, filepath.Dir(l))
	}
	return strings.Join(names, " or ")
}

// checkGrams checks that every probe has a Gram matrix with finite entries.
func checkGrams(recs []conflict.Record) error {
	for _, r := range recs {
		if r.Gram == nil {
			return fmt.Errorf("analyze: the probe at step %d has no Gram matrix (its line names no gram file)", r.Step)
		}
		K := r.Gram.SymmetricDim()
		for i := 0; i < K; i++ {
			for j := i; j < K; j++ {
				if v := r.Gram.At(i, j); math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("analyze: the Gram matrix of the probe at step %d has the non-finite entry G[%d,%d] = %g", r.Step, i, j, v)
				}
			}
		}
		for k, l := range r.Losses {
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return fmt.Errorf("analyze: the probe at step %d has the non-finite loss %g in bin %d", r.Step, l, k)
			}
		}
	}
	return nil
}

// closedForms sets Schedule and the closed forms' weights on the bins.
func (r *Result) closedForms(specs []string) error {
	sched, err := r.Info.NoiseSchedule()
	if err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	task, err := r.Info.TaskStrategy()
	if err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	r.Schedule = sched
	if r.Closed, err = conflict.ClosedForms(specs, task, sched, r.Info.Bins()); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

// solve weighs every probe with every method at λ = 0 and with λ. Each
// series keeps its methods from probe to probe, so stateful aggregators
// (GradVac's EMA targets) carry on as in a training run's probes.
func (r *Result) solve(cfg resolved) error {
	plain := conflict.SolveConfig{Methods: cfg.methods, Normalizer: cfg.normalizer, Options: cfg.options}
	aggs0, err := plain.Aggregators()
	if err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	aggsL, err := plain.Aggregators()
	if err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	for _, rec := range r.Records {
		prob, err := plain.Problem(rec.Gram, rec.Losses)
		if err != nil {
			return fmt.Errorf("analyze: the probe at step %d: %w", rec.Step, err)
		}
		pw := ProbeWeights{Step: rec.Step, Lambda: cfg.lambda.of(prob)}
		if pw.Plain, err = plain.SolveWith(aggs0, rec.Gram, rec.Losses); err != nil {
			return fmt.Errorf("analyze: the probe at step %d: %w", rec.Step, err)
		}
		withL := plain
		withL.Lambda = pw.Lambda
		if pw.WithLambda, err = withL.SolveWith(aggsL, rec.Gram, rec.Losses); err != nil {
			return fmt.Errorf("analyze: the probe at step %d: %w", rec.Step, err)
		}
		r.Weights = append(r.Weights, pw)
	}
	return nil
}

// tables compares the methods and the closed forms on the last probe at
// λ = 0 and at its λ.
func (r *Result) tables(cfg resolved) error {
	last, lambda := r.Last(), r.Weights[len(r.Weights)-1].Lambda
	var err error
	for _, t := range []struct {
		dst    *conflict.MethodTable
		lambda float64
	}{{&r.Plain, 0}, {&r.WithLambda, lambda}} {
		sc := conflict.SolveConfig{Methods: cfg.methods, Lambda: t.lambda, Normalizer: cfg.normalizer, Options: cfg.options}
		if *t.dst, err = conflict.CompareProbe(r.Info, last, sc, cfg.closed); err != nil {
			return fmt.Errorf("analyze: %w", err)
		}
	}
	return nil
}

// kind is a method's kind as the methods table names it.
func kind(method string) string {
	if mtl.IsSolver(method) {
		return "solver"
	}
	return "aggregator"
}
