package analyze

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/weighting"
)

// Files Render writes (besides conflict's figures, conflict.CosineFigure,
// StatsFigure and WeightsFigure with the format's extension).
const (
	// ReportFile is the Markdown report.
	ReportFile = "report.md"
	// StatsFile holds the statistics of every probe.
	StatsFile = "stats.csv"
	// WeightsFile holds every method's weights at every probe.
	WeightsFile = "weights.csv"
	// MethodsName and MethodsLambdaName are the methods tables of the
	// last probe at λ = 0 and with λ (NAME.md and NAME.csv each).
	MethodsName       = "methods"
	MethodsLambdaName = "methods-lambda"
)

// lambdaSuffix names a method's weights solved with λ ("fw λ").
const lambdaSuffix = " λ"

// RenderOptions says how Render draws; the zero value draws PNG figures
// with the heat maps of the first, middle and last probes.
type RenderOptions struct {
	// Format is the figures' format: png (default), svg, pdf, or none for
	// no figures.
	Format string
	// HeatmapSteps are the steps whose cosine matrices are drawn
	// (conflict.FigureOptions).
	HeatmapSteps []int
}

// Render writes the result into dir (created if missing) and returns the
// paths written, the report last: the figures, StatsFile, WeightsFile, the
// two methods tables and ReportFile. Every file is written atomically.
func (r *Result) Render(dir string, opt RenderOptions) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	var files []string
	if opt.Format != "none" {
		figs, err := r.figures(dir, opt)
		if err != nil {
			return nil, err
		}
		files = append(files, figs...)
	}
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{{StatsFile, r.writeStats}, {WeightsFile, r.writeWeights}} {
		path := filepath.Join(dir, f.name)
		if err := atomicfile.Write(path, f.write); err != nil {
			return nil, fmt.Errorf("analyze: %w", err)
		}
		files = append(files, path)
	}
	for _, t := range []struct {
		tab  conflict.MethodTable
		name string
	}{{r.Plain, MethodsName}, {r.WithLambda, MethodsLambdaName}} {
		written, err := t.tab.WriteFiles(dir, t.name)
		if err != nil {
			return nil, fmt.Errorf("analyze: %w", err)
		}
		files = append(files, written...)
	}
	rel := make([]string, len(files))
	for i, f := range files {
		rel[i] = filepath.Base(f)
	}
	report := filepath.Join(dir, ReportFile)
	if err := atomicfile.WriteBytes(report, []byte(r.Markdown(rel))); err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	return append(files, report), nil
}

// figures draws conflict's figures of the probes with the recomputed
// weights: each method at λ = 0 under its name and with λ as "NAME λ".
func (r *Result) figures(dir string, opt RenderOptions) ([]string, error) {
	info := r.Info
	info.Lambda, info.Normalizer = 0, r.Normalizer.String()
	recs := make([]conflict.Record, len(r.Records))
	for i, rec := range r.Records {
		rec.Solutions = append([]conflict.Solution(nil), r.Weights[i].Plain...)
		for _, s := range r.Weights[i].WithLambda {
			s.Method += lambdaSuffix
			rec.Solutions = append(rec.Solutions, s)
		}
		recs[i] = rec
	}
	var compare []weighting.Strategy
	for _, c := range r.Closed {
		s, err := weighting.ParseStrategy(c.Name)
		if err != nil {
			return nil, fmt.Errorf("analyze: %w", err)
		}
		compare = append(compare, s)
	}
	files, err := conflict.WriteFigures(dir, info, r.Schedule, recs, conflict.FigureOptions{HeatmapSteps: opt.HeatmapSteps, Format: opt.Format, Compare: compare})
	if err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	return files, nil
}

// g formats a number for the CSV files (shortest exact form).
func g(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// writeStats writes StatsFile: one line per probe with its step, the
// fraction of conflicting bin pairs, the mean and minimum off-diagonal
// cosine, then per bin its loss and gradient norm √G_kk, then the mean
// cosine of bins d = 1 … K−1 apart.
func (r *Result) writeStats(w io.Writer) error {
	cw := csv.NewWriter(w)
	K := len(r.Info.Labels)
	header := []string{"step", "negative_fraction", "mean_cosine", "min_cosine"}
	for _, l := range r.Info.Labels {
		header = append(header, "loss_"+l)
	}
	for _, l := range r.Info.Labels {
		header = append(header, "norm_"+l)
	}
	for d := 1; d < K; d++ {
		header = append(header, fmt.Sprintf("cosine_distance_%d", d))
	}
	cw.Write(header)
	for _, rec := range r.Records {
		s := rec.Stats
		line := []string{strconv.Itoa(rec.Step), g(s.NegativeFraction), g(s.MeanCosine), g(s.MinCosine)}
		for _, v := range rec.Losses {
			line = append(line, g(v))
		}
		for _, v := range s.Norms {
			line = append(line, g(v))
		}
		for d := 1; d < K; d++ {
			line = append(line, g(s.CosineByDistance[d]))
		}
		cw.Write(line)
	}
	cw.Flush()
	return cw.Error()
}

// writeWeights writes WeightsFile: one line per probe, method and λ (0,
// then the probe's λ) with the method's kind, the Eq. 11 objective and gap
// of the normalised problem, ‖Σ_k w_k g_k‖², the status and the weights on
// the bins' task losses w_<bin>.
func (r *Result) writeWeights(w io.Writer) error {
	cw := csv.NewWriter(w)
	header := []string{"step", "method", "kind", "lambda", "objective", "gap", "norm_sq", "iterations", "status"}
	for _, l := range r.Info.Labels {
		header = append(header, "w_"+l)
	}
	cw.Write(header)
	for _, pw := range r.Weights {
		for _, set := range []struct {
			lambda float64
			sols   []conflict.Solution
		}{{0, pw.Plain}, {pw.Lambda, pw.WithLambda}} {
			for _, s := range set.sols {
				line := []string{strconv.Itoa(pw.Step), s.Method, kind(s.Method), g(set.lambda), g(s.F), g(s.Gap), g(s.NormSq), strconv.Itoa(s.Iterations), s.Status}
				for _, v := range s.W {
					line = append(line, g(v))
				}
				cw.Write(line)
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
