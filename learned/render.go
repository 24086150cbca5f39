package learned

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/internal/prose"
	"github.com/paretodiff/paretodiff/plots"
	"gonum.org/v1/plot/vg"
)

// Files WriteFiles writes (the figure with the format's extension).
const (
	CSVFile    = "learned.csv"
	FigureName = "learned"
	ReportFile = "learned.md"
)

// WriteFiles renders the comparison into dir: CSVFile, FigureName.FORMAT
// (format png, svg or pdf; "" is png) and ReportFile, each written
// atomically, and returns their paths.
func (c *Comparison) WriteFiles(dir, format string) ([]string, error) {
	if format == "" {
		format = "png"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("learned: %w", err)
	}
	csvPath, fig, md := filepath.Join(dir, CSVFile), filepath.Join(dir, FigureName+"."+format), filepath.Join(dir, ReportFile)
	if err := atomicfile.Write(csvPath, c.WriteCSV); err != nil {
		return nil, fmt.Errorf("learned: %w", err)
	}
	g, err := c.Figure()
	if err != nil {
		return nil, err
	}
	if err := g.Save(fig); err != nil {
		return nil, fmt.Errorf("learned: %w", err)
	}
	if err := atomicfile.WriteBytes(md, []byte(c.Report())); err != nil {
		return nil, fmt.Errorf("learned: %w", err)
	}
	return []string{csvPath, fig, md}, nil
}

// WriteCSV writes one row per recorded step and bin: step, bin, t_lo,
// t_hi, u_mean, learned (the normalised learned weight), then one column
// per closed form and one per Pareto solver ("pareto:METHOD", empty where
// no probe was taken at the step).
func (c *Comparison) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	header := []string{"step", "bin", "t_lo", "t_hi", "u_mean", "learned"}
	for _, cl := range c.Closed {
		header = append(header, cl.Name)
	}
	for _, p := range c.Pareto {
		header = append(header, "pareto:"+p.Method)
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }
	for i, step := range c.Steps {
		for k := range c.Bins.K() {
			lo, hi := c.Bins.Range(k)
			row := []string{strconv.Itoa(step), strconv.Itoa(k), strconv.Itoa(lo), strconv.Itoa(hi), num(c.U[i][k]), num(c.Learned[i][k])}
			for _, cl := range c.Closed {
				row = append(row, num(cl.W[k]))
			}
			for _, p := range c.Pareto {
				cell := ""
				if j := p.at(i); j >= 0 {
					cell = num(p.W[j][k])
				}
				row = append(row, cell)
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// at returns the position of the Comparison's step i among the solver's
// probes, or −1.
func (p ParetoWeights) at(i int) int {
	for j, x := range p.Index {
		if x == i {
			return j
		}
	}
	return -1
}

// last returns the last step index and the solvers' last weights there:
// the last step with a probe when there are probes, else the last record.
func (c *Comparison) last() int {
	i := len(c.Steps) - 1
	for _, p := range c.Pareto {
		if n := len(p.Index); n > 0 && p.Index[n-1] < i {
			i = p.Index[n-1]
		}
	}
	return i
}

// Figure draws three panels: the weights per bin at the last step (with
// Pareto weights, the last probe step), learned, closed forms and Pareto
// alike; each bin's learned weight over training; and the distance of the
// learned weights from each of the others over training. The weights are
// on log axes, where a bin that a Pareto solution gives no weight falls
// off the curve.
func (c *Comparison) Figure() (plots.Grid, error) {
	centres := c.Bins.Centers()
	i := c.last()
	var at []plots.Series
	at = append(at, plots.Series{Name: "learned", X: centres, Y: c.Learned[i]})
	for _, p := range c.Pareto {
		if j := p.at(i); j >= 0 {
			at = append(at, plots.Series{Name: "Pareto " + p.Method, X: centres, Y: p.W[j]})
		}
	}
	for _, cl := range c.Closed {
		at = append(at, plots.Series{Name: cl.Name, X: centres, Y: cl.W})
	}
	steps := make([]float64, len(c.Steps))
	for j, s := range c.Steps {
		steps[j] = float64(s)
	}
	var course []plots.Series
	for k, label := range c.Bins.Labels() {
		y := make([]float64, len(c.Steps))
		for j := range y {
			y[j] = c.Learned[j][k]
		}
		course = append(course, plots.Series{Name: "t " + label, X: steps, Y: y})
	}
	var dist []plots.Series
	for _, cl := range c.Closed {
		dist = append(dist, plots.Series{Name: cl.Name, X: steps, Y: cl.TV})
	}
	for _, p := range c.Pareto {
		x := make([]float64, len(p.Steps))
		for j, s := range p.Steps {
			x[j] = float64(s)
		}
		dist = append(dist, plots.Series{Name: "Pareto " + p.Method, X: x, Y: p.TV})
	}
	specs := []plots.Lines{
		{Title: fmt.Sprintf("weights at step %d", c.Steps[i]), XLabel: "timestep t (bin centre)", YLabel: "weight on the bin's loss (sum 1, log scale)", LogY: true, Series: at},
		{Title: "learned weight of each bin", XLabel: "training step", YLabel: "learned weight (sum 1, log scale)", LogY: true, Ordered: true, Series: course},
		{Title: "distance from the learned weights", XLabel: "training step", YLabel: "total variation ½Σ|W − V|", Series: dist},
	}
	var panels []*plots.Panel
	for _, s := range specs {
		p, err := s.Plot()
		if err != nil {
			return plots.Grid{}, fmt.Errorf("learned: %w", err)
		}
		panels = append(panels, p)
	}
	return plots.Grid{Rows: 1, Cols: 3, Width: 15 * vg.Inch, Height: 4.3 * vg.Inch, Panels: panels,
		Title: "learned uncertainty weighting " + c.Weighting + ": effective weights b(t)·e^(−u) on the bins' " + c.taskName() + "; u divides " + c.Divides}, nil
}

// taskName names the loss the weights are on.
func (c *Comparison) taskName() string {
	if c.Task == "constant" {
		return "x0-MSE"
	}
	return c.Task + "-weighted x0-MSE"
}

// Nearest returns the closed form nearest to the learned weights at step
// index i (smallest total variation) and its distance.
func (c *Comparison) Nearest(i int) (string, float64) {
	best, d := "", 2.0
	for _, cl := range c.Closed {
		if cl.TV[i] < d {
			best, d = cl.Name, cl.TV[i]
		}
	}
	return best, d
}

// Report renders the comparison as markdown: the table of weights at the
// last step (with probes, the last probe step), the distances there, the
// nearest closed form at the first and last records, and each solver's
// mean distance over the probes.
func (c *Comparison) Report() string {
	var b strings.Builder
	i := c.last()
	fmt.Fprintf(&b, "# Learned uncertainty weighting %s\n\n", c.Weighting)
	fmt.Fprintf(&b, "u divides %s, so the effective weight on the x0-MSE is b(t)·e^{−u(t)}. Below it is on the %s, per bin the sum over its timesteps, "+
		"normalised to sum 1 over the %d bins, as the closed forms and the Pareto weights are (weights on the bins' losses with timesteps drawn uniformly). "+
		"At the fixed point e^{u(t)} is the expected loss u divides at t, so b·e^{−u} is b over it.\n\n", c.Divides, c.taskName(), c.Bins.K())
	fmt.Fprintf(&b, "## Step %d\n\n| bin | t | mean u | learned |", c.Steps[i])
	for _, cl := range c.Closed {
		fmt.Fprintf(&b, " %s |", cl.Name)
	}
	var pareto []ParetoWeights
	for _, p := range c.Pareto {
		if p.at(i) >= 0 {
			pareto = append(pareto, p)
			fmt.Fprintf(&b, " Pareto %s |", p.Method)
		}
	}
	fmt.Fprintf(&b, "\n|%s\n", strings.Repeat("---|", 4+len(c.Closed)+len(pareto)))
	labels := c.Bins.Labels()
	for k := range c.Bins.K() {
		fmt.Fprintf(&b, "| %d | %s | %s | %s |", k, labels[k], prose.F3(c.U[i][k]), prose.F3(c.Learned[i][k]))
		for _, cl := range c.Closed {
			fmt.Fprintf(&b, " %s |", prose.F3(cl.W[k]))
		}
		for _, p := range pareto {
			fmt.Fprintf(&b, " %s |", prose.F3(p.W[p.at(i)][k]))
		}
		b.WriteString("\n")
	}
	var parts []string
	for _, cl := range c.Closed {
		parts = append(parts, cl.Name+" "+prose.F3(cl.TV[i]))
	}
	for _, p := range pareto {
		parts = append(parts, "Pareto "+p.Method+" "+prose.F3(p.TV[p.at(i)]))
	}
	name, d := c.Nearest(i)
	fmt.Fprintf(&b, "\nTotal-variation distance ½Σ|W − V| of the learned weights from each at step %d: %s. The nearest closed form is %s (%s).",
		c.Steps[i], strings.Join(parts, ", "), name, prose.F3(d))
	if len(c.Steps) > 1 {
		n0, d0 := c.Nearest(0)
		nl, dl := c.Nearest(len(c.Steps) - 1)
		fmt.Fprintf(&b, " Over training the nearest closed form goes from %s (%s) at step %d to %s (%s) at step %d.", n0, prose.F3(d0), c.Steps[0], nl, prose.F3(dl), c.Steps[len(c.Steps)-1])
	}
	for _, p := range c.Pareto {
		var sum float64
		for _, v := range p.TV {
			sum += v
		}
		fmt.Fprintf(&b, " Pareto %s at the %d probe steps with a record: mean distance %s.", p.Method, len(p.TV), prose.F3(sum/float64(len(p.TV))))
	}
	if len(c.Pareto) == 0 {
		b.WriteString(" (No probe of this run: train it with paretodiff conflict to compare with the Pareto weights.)")
	}
	b.WriteString("\n")
	return b.String()
}
