package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/internal/prose"
	"github.com/paretodiff/paretodiff/learned"
	"github.com/paretodiff/paretodiff/run"
)

// writeLearned renders the comparison of a run trained with a learned
// weighting into its folder (learned.csv, learned.png, learned.md): its
// effective weights over training next to the closed forms and, when the
// run has probes that solve Pareto weights (paretodiff conflict), theirs
// at the same steps. A run of another weighting gets nothing.
func writeLearned(stdout io.Writer, r *run.Run) error {
	recs, err := r.Records()
	if err != nil {
		return err
	}
	ms := make([]diffusion.Metrics, len(recs))
	for i, rec := range recs {
		ms[i] = rec.Metrics
	}
	h, err := learned.HistoryOf(r.Spec.Train, ms)
	if errors.Is(err, learned.ErrNotLearned) {
		return nil
	}
	if err != nil {
		return err
	}
	var probes *learned.Probes
	for _, ps := range r.Spec.Probes {
		if len(ps.Methods) > 0 {
			info, precs, err := r.Probe(ps.Name)
			if err != nil {
				return err
			}
			probes = &learned.Probes{Info: info, Records: precs}
			break
		}
	}
	c, err := learned.Compare(h, probes, nil)
	if err != nil {
		return err
	}
	files, err := c.WriteFiles(r.Dir, "png")
	if err != nil {
		return err
	}
	last := len(c.Steps) - 1
	name, d := c.Nearest(last)
	fmt.Fprintf(stdout, "learned weights at step %d: nearest closed form %s (total variation %s)", c.Steps[last], name, prose.F3(d))
	for _, p := range c.Pareto {
		fmt.Fprintf(stdout, ", Pareto %s at step %d %s", p.Method, p.Steps[len(p.Steps)-1], prose.F3(p.TV[len(p.TV)-1]))
	}
	fmt.Fprintf(stdout, "; %s\n", strings.Join(files, ", "))
	return nil
}
