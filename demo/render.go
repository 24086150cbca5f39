package demo

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/plots"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/paretodiff/paretodiff/weighting"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/plot/vg"
)

// Render writes the demo's files into dir (created if missing; normally
// the Env.Out that Run trained into, whose model/ the report links) from
// the Result alone:
//   - weights.png: the closed forms' weights for each prediction target
//     (reproduce.WeightsFigure);
//   - training.png: the training loss and the Fig. 6 x0-MSE by timestep
//     range over training;
//   - conflict/: the probes' cosine heat maps, statistics and weights over
//     training (conflict.WriteFigures);
//   - pareto.csv and pareto.png: every weighting of the last probe with
//     its weights, objectives and Eq. 8 check;
//   - quality.csv and samples.png: the sample quality and the point sets;
//   - report.md, which explains every result with its numbers (Markdown).
//
// It sets Files. Every file is written atomically.
func (r *Result) Render(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	o := &output{dir: dir}
	if err := o.write("weights.png", r.weightsFigure); err != nil {
		return err
	}
	o.files = append(o.files, r.ModelFiles...)
	if err := o.write("training.png", r.trainingFigure); err != nil {
		return err
	}
	if err := r.conflictFigures(o); err != nil {
		return err
	}
	for _, f := range []struct {
		name  string
		write func(path string) error
	}{
		{"pareto.csv", r.paretoTable().WriteCSV},
		{"pareto.png", r.paretoFigure},
		{"quality.csv", r.qualityTable().WriteCSV},
		{"samples.png", r.samplesFigure},
	} {
		if err := o.write(f.name, f.write); err != nil {
			return err
		}
	}
	r.Files = append([]string{ReportFile}, o.files...)
	if err := atomicfile.WriteBytes(filepath.Join(dir, ReportFile), []byte(r.Markdown())); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

// output collects the files Render writes, by their names relative to
// dir.
type output struct {
	dir   string
	files []string
}

// write writes the file name with f and lists it.
func (o *output) write(name string, f func(path string) error) error {
	if err := f(filepath.Join(o.dir, name)); err != nil {
		return fmt.Errorf("demo: %s: %w", name, err)
	}
	o.files = append(o.files, name)
	return nil
}

// weightsFigure draws the closed forms among the weightings.
func (r *Result) weightsFigure(path string) error {
	var names []string
	var strategies []weighting.Strategy
	for _, w := range r.Weightings {
		if w.Pareto {
			continue
		}
		s, err := weighting.ParseStrategy(w.Name)
		if err != nil {
			return err
		}
		names, strategies = append(names, w.Name), append(strategies, s)
	}
	return reproduce.WeightsFigure(r.Schedule, names, strategies).Save(path)
}

// conflictFigures draws the probes into ConflictDir.
func (r *Result) conflictFigures(o *output) error {
	figs, err := conflict.WriteFigures(filepath.Join(o.dir, ConflictDir), r.ProbeInfo, r.Schedule, r.Probes, conflict.FigureOptions{})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	for _, f := range figs {
		o.files = append(o.files, ConflictDir+"/"+filepath.Base(f))
	}
	return nil
}

// paretoTable is pareto.csv: every weighting with its weights and
// objectives.
func (r *Result) paretoTable() *reproduce.Table {
	t := &reproduce.Table{Header: []string{"weighting", "pareto", "lambda"}}
	for _, l := range r.Bins.Labels() {
		t.Header = append(t.Header, "w_"+l)
	}
	t.Header = append(t.Header, "objective_lambda0", "objective_lambda", "ratio_lambda0", "ratio_lambda", "decreases_all", "worst_inner", "tv_to_fw_lambda")
	for _, w := range r.Weightings {
		row := []any{w.Name, w.Pareto, w.Lambda}
		for _, v := range w.W {
			row = append(row, v)
		}
		row = append(row, w.F0, w.FL, w.Ratio0, w.RatioL, w.Descent.DecreasesAll, w.Descent.Worst, w.TV)
		t.Add(row...)
	}
	return t
}

// qualityTable is quality.csv: the measure of every sample set, the
// untrained network's and the floor.
func (r *Result) qualityTable() *reproduce.Table {
	q := r.Quality
	t := &reproduce.Table{Header: []string{"model", "draw", strings.ToLower(q.Metric)}}
	for d, v := range q.Trained {
		t.Add("trained (EMA)", d, v)
	}
	t.Add("untrained", 0, q.Untrained)
	t.Add("real data (floor)", 0, q.Floor)
	return t
}

// trainingFigure draws the training loss and the Fig. 6 x0-MSE by
// timestep range against the step.
func (r *Result) trainingFigure(path string) error {
	var ls, es []float64
	var lsx, esx []float64
	for _, rec := range r.Records {
		if !math.IsNaN(rec.Loss) {
			lsx, ls = append(lsx, float64(rec.Step)), append(ls, rec.Loss)
		}
		esx, es = append(esx, float64(rec.Step)), append(es, rec.EvalLoss)
	}
	lossPanel := plots.Lines{
		Title:  fmt.Sprintf("weighted loss (%s-prediction, %s)", r.Sizes.Target, r.Sizes.Strategy),
		XLabel: "training step", YLabel: "loss (log scale)", LogY: true,
		Series: []plots.Series{{Name: "training (mean since last record)", X: lsx, Y: ls}, {Name: "held-out", X: esx, Y: es}},
	}
	grid := plots.Grid{Rows: 1, Cols: 2, Width: 12 * vg.Inch, Height: 4.5 * vg.Inch}
	for _, l := range []plots.Lines{lossPanel, r.x0MSEPanel()} {
		p, err := l.Plot()
		if err != nil {
			return err
		}
		grid.Panels = append(grid.Panels, p)
	}
	return grid.Save(path)
}

// x0MSEPanel is the Fig. 6 panel of training.png: the x0-MSE of every
// timestep range and the data variance.
func (r *Result) x0MSEPanel() plots.Lines {
	l := plots.Lines{Title: "unweighted x0-MSE by timestep range (Fig. 6)", XLabel: "training step", YLabel: "x0-MSE (log scale)", LogY: true, Ordered: true}
	for i := range r.RangeLabels {
		var x, y []float64
		for _, rec := range r.Records {
			if i < len(rec.X0MSE) {
				x, y = append(x, float64(rec.Step)), append(y, rec.X0MSE[i])
			}
		}
		l.Series = append(l.Series, plots.Series{Name: "t in " + r.RangeLabels[i], X: x, Y: y})
	}
	last := float64(r.Records[len(r.Records)-1].Step)
	l.Series = append(l.Series, plots.Series{Name: "data variance (predicting the mean)", X: []float64{0, last}, Y: []float64{r.DataVar, r.DataVar}, Reference: true})
	return l
}

// paretoFigure draws every weighting of the last probe against the bins'
// centre timesteps, on a linear and a log scale.
func (r *Result) paretoFigure(path string) error {
	centres := r.Bins.Centers()
	var series []plots.Series
	for _, w := range r.Weightings {
		name := w.Name
		if w.Pareto {
			name = "Pareto " + name
			if w.Lambda > 0 {
				name += fmt.Sprintf("=%.3g", w.Lambda)
			}
		}
		series = append(series, plots.Series{Name: name, X: centres, Y: w.W})
	}
	step := r.Final().Step
	grid := plots.Grid{Rows: 1, Cols: 2, Width: 12 * vg.Inch, Height: 4.5 * vg.Inch, SharedLegend: true}
	for _, log := range []bool{false, true} {
		l := plots.Lines{
			Title:  fmt.Sprintf("weights on the %d bins' x0 losses (sum 1), step %d", r.Bins.K(), step),
			XLabel: "timestep t (bin centre)", YLabel: "weight", Series: series, LogY: log,
		}
		if log {
			l.Title, l.YLabel = "the same on a log scale (zero weights left out)", "weight (log scale)"
		}
		p, err := l.Plot()
		if err != nil {
			return err
		}
		grid.Panels = append(grid.Panels, p)
	}
	return grid.Save(path)
}

// samplesFigure draws real points, the untrained and the trained model's
// samples side by side on the same axes.
func (r *Result) samplesFigure(path string) error {
	s := r.Samples
	lim := 0.0
	for _, v := range s.Real {
		lim = math.Max(lim, math.Abs(float64(v)))
	}
	lim *= 1.15
	q := r.Quality
	grid := plots.Grid{Rows: 1, Cols: 3, Width: 13 * vg.Inch, Height: 4.6 * vg.Inch}
	for _, sc := range []plots.Scatter{
		{Title: fmt.Sprintf("real data (%s floor %.3f)", q.Metric, q.Floor), Points: s.Real},
		{Title: fmt.Sprintf("untrained network (%s %.3f)", q.Metric, q.Untrained), Points: s.Untrained},
		{Title: fmt.Sprintf("trained, EMA weights (%s %.3f)", q.Metric, stat.Mean(q.Trained, nil)), Points: s.Trained},
	} {
		sc.Min, sc.Max = -lim, lim
		p, err := sc.Plot()
		if err != nil {
			return err
		}
		grid.Panels = append(grid.Panels, p)
	}
	return grid.Save(path)
}
