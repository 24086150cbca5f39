package conflict

import (
	"fmt"
	"path/filepath"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/weighting"
	"gonum.org/v1/gonum/mat"
)

// NoiseSchedule returns the noise schedule a log's Info names (Schedule, T,
// ZeroTerminal), which the closed forms' bin weights need.
func (i Info) NoiseSchedule() (*diffusion.Schedule, error) {
	s, err := diffusion.NewSchedule(i.Schedule, i.T, i.ZeroTerminal)
	if err != nil {
		return nil, fmt.Errorf("conflict: the log's schedule: %w", err)
	}
	return s, nil
}

// TaskStrategy returns the per-bin task loss as a weighting of the x0 loss
// (Info.Task; empty means constant, the unweighted x0-MSE).
func (i Info) TaskStrategy() (weighting.Strategy, error) {
	if i.Task == "" {
		return weighting.Constant{}, nil
	}
	s, err := weighting.ParseStrategy(i.Task)
	if err != nil {
		return nil, fmt.Errorf("conflict: the log's task loss %q: %w", i.Task, err)
	}
	return s, nil
}

// Norm returns the log's gradient normaliser (Info.Normalizer; a log
// without solves names none, which means pareto.NormNone).
func (i Info) Norm() (pareto.Normalizer, error) {
	if i.Normalizer == "" {
		return pareto.NormNone, nil
	}
	n, err := pareto.ParseNormalizer(i.Normalizer)
	if err != nil {
		return n, fmt.Errorf("conflict: the log's normaliser: %w", err)
	}
	return n, nil
}

// CompareProbe is CompareMethods on one probe of a log: the methods of cfg
// and the closed forms named by closed (weighting specs, as ClosedForms
// reads them), with the log's schedule and task loss giving the closed
// forms' weights on the bins. The conflict command's methods table and
// package analyze both use it.
func CompareProbe(info Info, rec Record, cfg SolveConfig, closed []string) (MethodTable, error) {
	sched, err := info.NoiseSchedule()
	if err != nil {
		return MethodTable{}, err
	}
	task, err := info.TaskStrategy()
	if err != nil {
		return MethodTable{}, err
	}
	forms, err := ClosedForms(closed, task, sched, info.Bins())
	if err != nil {
		return MethodTable{}, err
	}
	return CompareMethods(rec, info.Labels, cfg, forms)
}

// RelativeLambda returns the absolute λ of Eq. 11 that is rel times the
// mean diagonal tr(G)/K of the Gram g (of the normalised tasks: with the l2
// normaliser tr(G)/K = 1), so that a relative λ does not depend on the
// gradients' scale (the demo's "with λ" weights use it).
func RelativeLambda(g mat.Symmetric, rel float64) float64 {
	return rel * mat.Trace(g) / float64(g.SymmetricDim())
}

// WriteFiles writes the table as NAME.md (Markdown) and NAME.csv
// (WriteCSV) into dir, each atomically, and returns their paths.
func (t MethodTable) WriteFiles(dir, name string) ([]string, error) {
	md, csvPath := filepath.Join(dir, name+".md"), filepath.Join(dir, name+".csv")
	if err := atomicfile.WriteBytes(md, []byte(t.Markdown())); err != nil {
		return nil, fmt.Errorf("conflict: %w", err)
	}
	if err := atomicfile.Write(csvPath, t.WriteCSV); err != nil {
		return nil, fmt.Errorf("conflict: %w", err)
	}
	return []string{md, csvPath}, nil
}
