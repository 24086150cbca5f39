package analyze

import (
	"fmt"
	"math"
	"strings"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/internal/prose"
	"gonum.org/v1/gonum/floats"
)

// Markdown writes the report from the Result alone; files are the names
// of the files written next to it, which it links. Every comparison in it
// (which closed form is closest, whether a weighting's step lowers every
// bin) is decided from the numbers.
func (r *Result) Markdown(files []string) string {
	var b strings.Builder
	r.writeHead(&b)
	r.writeSummary(&b)
	r.writeConflict(&b)
	for _, t := range []struct {
		heading string
		tab     conflict.MethodTable
	}{
		{fmt.Sprintf("Methods on the last probe, λ = 0 (%s.md, %s.csv)", MethodsName, MethodsName), r.Plain},
		{fmt.Sprintf("Methods on the last probe, λ = %s (%s.md, %s.csv)", prose.F3(r.WithLambda.Lambda), MethodsLambdaName, MethodsLambdaName), r.WithLambda},
	} {
		fmt.Fprintf(&b, "## %s\n\n%s\n", t.heading, t.tab.Body())
	}
	r.writeOverTraining(&b)
	b.WriteString("## Files\n\n")
	for _, f := range files {
		if strings.HasSuffix(f, ".png") || strings.HasSuffix(f, ".svg") {
			fmt.Fprintf(&b, "- [%s](%s)\n\n  ![%s](%s)\n", f, f, f, f)
		} else {
			fmt.Fprintf(&b, "- [%s](%s)\n", f, f)
		}
	}
	return b.String()
}

// writeHead writes the title and what the log is.
func (r *Result) writeHead(b *strings.Builder) {
	in := r.Info
	first, last := r.Records[0], r.Last()
	est := in.GramEstimator
	if est == "" {
		est = "plain"
	}
	fmt.Fprintf(b, "# paretodiff analyze: %s\n\n", r.Dir)
	fmt.Fprintf(b, "Written by `paretodiff analyze` from the probe log's Gram matrices and losses alone. "+
		"The log holds %d probe(s) from step %d to step %d of %d timestep bins (%s) of a model predicting %s on the %s schedule (T = %d), "+
		"%d examples per bin, over %d parameters (%s); the per-bin task loss is %s and the Gram estimator %s. "+
		"The weights are solved with the normaliser %s; the weights \"with λ\" use %s.\n\n",
		len(r.Records), first.Step, last.Step, len(in.Labels), strings.Join(in.Labels, ", "), in.Target, in.Schedule, in.T,
		in.PerBin, in.Selected, in.Params, in.Task, est, r.Normalizer, r.LambdaRule)
}

// writeSummary writes "In short": the last probe's conflict, where the
// Pareto weights lean, and the closed form closest to them.
func (r *Result) writeSummary(b *strings.Builder) {
	last := r.Last()
	K := len(r.Info.Labels)
	b.WriteString("## In short\n\n")
	fmt.Fprintf(b, "- At the last probe (step %d), %s of the %d bin pairs have conflicting gradients (negative cosine); the most negative cosine is %s.\n",
		last.Step, prose.Pct(last.Stats.NegativeFraction), K*(K-1)/2, prose.F3(last.Stats.MinCosine))
	for _, t := range []conflict.MethodTable{r.Plain, r.WithLambda} {
		ref := reference(t)
		if ref == nil {
			continue
		}
		k := floats.MaxIdx(ref.W)
		fmt.Fprintf(b, "- With λ = %s, %s puts its largest weight, %s, on timesteps %s (effective number of bins 1/Σw² = %s)",
			prose.F3(t.Lambda), ref.Name, prose.F3(ref.W[k]), t.Labels[k], prose.F3(effectiveBins(ref.W)))
		if c := closest(t); c != nil {
			fmt.Fprintf(b, "; of the closed forms, %s comes closest to its Eq. 11 objective, at %s× the least on the simplex, and its step %s",
				c.Name, prose.F3(c.Objective/best(t)), eq8Phrase(*c))
		}
		b.WriteString(".\n")
	}
	b.WriteString("\n")
}

// writeConflict writes the conflict statistics at the first and last
// probes.
func (r *Result) writeConflict(b *strings.Builder) {
	first, last := r.Records[0], r.Last()
	b.WriteString("## Gradient conflict (stats.csv, stats.png, cosine.png)\n\n")
	b.WriteString("The cosine C_kl = G_kl/√(G_kk·G_ll) of two bins' loss gradients says whether a small step that lowers one bin's loss lowers the other's (C > 0) or raises it (C < 0). " +
		"The statistics are recomputed from each probe's Gram matrix.\n\n")
	b.WriteString("| probe step | conflicting pairs | mean cosine | min cosine | largest / smallest √G_kk |\n|---:|---:|---:|---:|---:|\n")
	recs := []conflict.Record{first}
	if len(r.Records) > 1 {
		recs = append(recs, last)
	}
	for _, rec := range recs {
		s := rec.Stats
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s |\n", rec.Step, prose.Pct(s.NegativeFraction), prose.F3(s.MeanCosine), prose.F3(s.MinCosine),
			prose.F3(floats.Max(s.Norms)/floats.Min(s.Norms)))
	}
	b.WriteString("\n")
	if len(r.Records) > 1 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, rec := range r.Records {
			lo, hi = math.Min(lo, rec.Stats.NegativeFraction), math.Max(hi, rec.Stats.NegativeFraction)
		}
		fmt.Fprintf(b, "Across the %d probes the share of conflicting pairs ranged from %s to %s; the mean cosine %s from %s to %s.\n\n",
			len(r.Records), prose.Pct(lo), prose.Pct(hi), prose.Change(first.Stats.MeanCosine, last.Stats.MeanCosine),
			prose.F3(first.Stats.MeanCosine), prose.F3(last.Stats.MeanCosine))
	}
}

// writeOverTraining writes the weights over training: each method's mean
// weights over the probes.
func (r *Result) writeOverTraining(b *strings.Builder) {
	fmt.Fprintf(b, "## Weights over training (%s, weights.png)\n\n", WeightsFile)
	fmt.Fprintf(b, "Every method solved every probe at λ = 0 and with λ (\"NAME λ\" in the figure); %s holds each probe's weights. Their means over the %d probes:\n\n", WeightsFile, len(r.Weights))
	b.WriteString("| method | λ |")
	for _, l := range r.Info.Labels {
		fmt.Fprintf(b, " w[%s] |", l)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---:|", len(r.Info.Labels)) + "\n")
	for i, m := range r.Methods {
		for _, withL := range []bool{false, true} {
			mean := make([]float64, len(r.Info.Labels))
			for _, pw := range r.Weights {
				sols := pw.Plain
				if withL {
					sols = pw.WithLambda
				}
				floats.AddScaled(mean, 1/float64(len(r.Weights)), sols[i].W)
			}
			lam := "0"
			if withL {
				lam = "with λ"
			}
			fmt.Fprintf(b, "| %s | %s |", m, lam)
			for _, v := range mean {
				fmt.Fprintf(b, " %.3f |", v)
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("\n")
}

// reference is the table's first solver row (the exact Pareto optimum when
// the methods include it), or its first row.
func reference(t conflict.MethodTable) *conflict.MethodRow {
	for i := range t.Rows {
		if t.Rows[i].Kind == "solver" {
			return &t.Rows[i]
		}
	}
	if len(t.Rows) > 0 && t.Rows[0].Kind != "closed-form" {
		return &t.Rows[0]
	}
	return nil
}

// closest is the closed form with the least Eq. 11 objective.
func closest(t conflict.MethodTable) *conflict.MethodRow {
	var c *conflict.MethodRow
	for i := range t.Rows {
		if row := &t.Rows[i]; row.Kind == "closed-form" && (c == nil || row.Objective < c.Objective) {
			c = row
		}
	}
	return c
}

// best is the least Eq. 11 objective of the table's rows on the simplex.
func best(t conflict.MethodTable) float64 {
	v := math.Inf(1)
	for _, row := range t.Rows {
		if row.OnSimplex {
			v = math.Min(v, row.Objective)
		}
	}
	return v
}

// eq8Phrase says whether the step −d of a row lowers every bin's loss to
// first order (Eq. 8: min_k ⟨d, g_k⟩ > 0).
func eq8Phrase(row conflict.MethodRow) string {
	if row.MinInner > 0 {
		return "lowers every bin's loss to first order (Eq. 8)"
	}
	return fmt.Sprintf("raises some bin's loss to first order (Eq. 8 fails: min_k ⟨d, g_k⟩/‖d‖² = %s)", prose.F3(row.ConflictRatio))
}

// effectiveBins is 1/Σ_k w_k², the number of bins a weighting spreads over.
func effectiveBins(w []float64) float64 {
	var s float64
	for _, v := range w {
		s += v * v
	}
	return 1 / s
}
