package conflict

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/matio"
	"github.com/paretodiff/paretodiff/weighting"
	"gonum.org/v1/gonum/mat"
)

// Files of a probe log folder (see Log).
const (
	// InfoFile holds the probe's settings and bins (Info), as JSON.
	InfoFile = "probe.json"
	// RecordsFile holds one JSON object per probe (see Log).
	RecordsFile = "probes.jsonl"
	// GramDir and CosineDir hold one NPY matrix per probe, named by
	// MatrixName.
	GramDir   = "gram"
	CosineDir = "cosine"
)

// MatrixName is the file name of a probe's matrix in GramDir or CosineDir:
// "step-00001000.npy" for step 1000.
func MatrixName(step int) string { return fmt.Sprintf("step-%08d.npy", step) }

// Info describes the settings of a probe run, written once to InfoFile.
type Info struct {
	// Edges are the bins' edges (K+1 values), Labels their "lo-hi" names.
	Edges  []int    `json:"bin_edges"`
	Labels []string `json:"bin_labels"`
	PerBin int      `json:"per_bin"`
	// Params is the parameter-subset spec and Selected the number of
	// parameters it selects.
	Params   string `json:"params"`
	Selected int    `json:"selected"`
	// Task is the per-bin task-loss weighting ("constant": the unweighted
	// x0-MSE).
	Task string `json:"task"`
	// Target, Schedule, T and ZeroTerminal describe the model's diffusion.
	Target       string `json:"target"`
	Schedule     string `json:"schedule"`
	T            int    `json:"T"`
	ZeroTerminal bool   `json:"zero_terminal"`
	// Methods, Lambda and Normalizer are the Pareto solves' settings.
	Methods    []string `json:"methods"`
	Lambda     float64  `json:"lambda"`
	Normalizer string   `json:"normalizer"`
	// Fresh says whether each probe drew a new batch; Seed seeds them.
	Fresh bool   `json:"fresh"`
	Seed  uint64 `json:"seed"`
	// Gram is how the Gram was formed: "one-pass" or "reference".
	Gram string `json:"gram"`
}

// Bins returns the info's bins.
func (i Info) Bins() weighting.Bins { return weighting.Bins{Edges: append([]int(nil), i.Edges...)} }

// Info describes the probe for a log.
func (p *Probe) Info() Info {
	c := p.cfg
	task := "constant"
	if c.Task != nil {
		task = c.Task.String()
	}
	params := c.Params
	if params == "" {
		params = "all"
	}
	gram := "one-pass"
	if c.Reference {
		gram = "reference"
	}
	selected := 0
	for _, prm := range p.obj.Net.Params().Params() {
		if p.sel == nil || p.sel(prm.Name) {
			selected += prm.Size
		}
	}
	info := Info{
		Edges: append([]int(nil), c.Bins.Edges...), Labels: c.Bins.Labels(), PerBin: c.PerBin,
		Params: params, Selected: selected, Task: task, Target: p.obj.Target.String(),
		Schedule: p.obj.Schedule.Name(), T: p.obj.Schedule.T(), ZeroTerminal: p.obj.Schedule.IsZeroTerminal(),
		Fresh: c.Fresh, Seed: c.Seed, Gram: gram,
	}
	if !c.NoSolve {
		info.Methods, info.Lambda, info.Normalizer = c.Solve.methods(), c.Solve.Lambda, c.Solve.Normalizer.String()
	}
	return info
}

// Log writes a probe run to a folder so that an interrupted run never
// leaves a corrupt file: InfoFile once; for each record, its Gram and cosine
// matrices as NPY files (GramDir/MatrixName(step), CosineDir/…), then
// RecordsFile rewritten whole with the new line appended, each file
// replaced atomically (internal/atomicfile). A crash leaves the JSONL of
// the previous probe, complete, and at worst matrices no line refers to.
//
// RecordsFile lines are JSON objects with the keys step, losses, norms,
// negative_fraction, mean_cosine, min_cosine, cosine_by_distance,
// solutions (a list of {method, w, f, gap, norm_sq, iterations, status}),
// seconds, gram and cosine (the NPY paths, relative to the folder).
// Non-finite numbers are written as the strings "NaN", "+Inf", "-Inf", as
// the training metrics are.
type Log struct {
	dir   string
	lines bytes.Buffer
}

// CreateLog starts a log in dir (created if needed), replacing any earlier
// log there.
func CreateLog(dir string, info Info) (*Log, error) {
	for _, d := range []string{dir, filepath.Join(dir, GramDir), filepath.Join(dir, CosineDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("conflict: %w", err)
		}
	}
	if err := atomicfile.WriteJSON(filepath.Join(dir, InfoFile), info); err != nil {
		return nil, fmt.Errorf("conflict: %w", err)
	}
	l := &Log{dir: dir}
	if err := atomicfile.WriteBytes(filepath.Join(dir, RecordsFile), nil); err != nil {
		return nil, fmt.Errorf("conflict: %w", err)
	}
	return l, nil
}

// Dir returns the log's folder.
func (l *Log) Dir() string { return l.dir }

// Append writes a record (see Log).
func (l *Log) Append(r Record) error {
	name := MatrixName(r.Step)
	gp, cp := filepath.Join(GramDir, name), filepath.Join(CosineDir, name)
	if r.Gram != nil {
		if err := matio.WriteNPY(filepath.Join(l.dir, gp), r.Gram); err != nil {
			return fmt.Errorf("conflict: %w", err)
		}
	}
	if r.Cosine != nil {
		if err := matio.WriteNPY(filepath.Join(l.dir, cp), r.Cosine); err != nil {
			return fmt.Errorf("conflict: %w", err)
		}
	}
	line, err := r.marshal(gp, cp)
	if err != nil {
		return err
	}
	n := l.lines.Len()
	l.lines.Write(line)
	l.lines.WriteByte('\n')
	if err := atomicfile.WriteBytes(filepath.Join(l.dir, RecordsFile), l.lines.Bytes()); err != nil {
		l.lines.Truncate(n)
		return fmt.Errorf("conflict: %w", err)
	}
	return nil
}

// jf is a float64 that JSON holds as a number when finite and as "NaN",
// "+Inf" or "-Inf" otherwise.
type jf float64

// MarshalJSON writes a number, or a quoted "NaN", "+Inf" or "-Inf".
func (f jf) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte(strconv.Quote(strconv.FormatFloat(v, 'g', -1, 64))), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (f *jf) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return err
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		*f = jf(v)
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	*f = jf(v)
	return err
}

func jfs(v []float64) []jf {
	out := make([]jf, len(v))
	for i, x := range v {
		out[i] = jf(x)
	}
	return out
}

func floatsOf(v []jf) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

type jsonSolution struct {
	Method     string `json:"method"`
	W          []jf   `json:"w"`
	F          jf     `json:"f"`
	Gap        jf     `json:"gap"`
	NormSq     jf     `json:"norm_sq"`
	Iterations int    `json:"iterations"`
	Status     string `json:"status"`
}

type jsonRecord struct {
	Step             int            `json:"step"`
	Losses           []jf           `json:"losses"`
	Norms            []jf           `json:"norms"`
	NegativeFraction jf             `json:"negative_fraction"`
	MeanCosine       jf             `json:"mean_cosine"`
	MinCosine        jf             `json:"min_cosine"`
	CosineByDistance []jf           `json:"cosine_by_distance"`
	Solutions        []jsonSolution `json:"solutions,omitempty"`
	Seconds          jf             `json:"seconds"`
	Gram             string         `json:"gram,omitempty"`
	Cosine           string         `json:"cosine,omitempty"`
}

func (r Record) marshal(gramPath, cosinePath string) ([]byte, error) {
	j := jsonRecord{
		Step: r.Step, Losses: jfs(r.Losses), Norms: jfs(r.Stats.Norms), NegativeFraction: jf(r.Stats.NegativeFraction),
		MeanCosine: jf(r.Stats.MeanCosine), MinCosine: jf(r.Stats.MinCosine), CosineByDistance: jfs(r.Stats.CosineByDistance),
		Seconds: jf(r.Seconds),
	}
	if r.Gram != nil {
		j.Gram = filepath.ToSlash(gramPath)
	}
	if r.Cosine != nil {
		j.Cosine = filepath.ToSlash(cosinePath)
	}
	for _, s := range r.Solutions {
		j.Solutions = append(j.Solutions, jsonSolution{Method: s.Method, W: jfs(s.W), F: jf(s.F), Gap: jf(s.Gap), NormSq: jf(s.NormSq), Iterations: s.Iterations, Status: s.Status})
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("conflict: encoding the record of step %d: %w", r.Step, err)
	}
	return b, nil
}

// ReadLog reads a folder written by Log: its Info and every record, with
// its Gram matrix read back from the NPY file and the cosine matrix
// recomputed from it.
func ReadLog(dir string) (Info, []Record, error) {
	var info Info
	raw, err := os.ReadFile(filepath.Join(dir, InfoFile))
	if err != nil {
		return info, nil, fmt.Errorf("conflict: %w", err)
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		return info, nil, fmt.Errorf("conflict: %s: %w", filepath.Join(dir, InfoFile), err)
	}
	f, err := os.Open(filepath.Join(dir, RecordsFile))
	if err != nil {
		return info, nil, fmt.Errorf("conflict: %w", err)
	}
	defer f.Close()
	var recs []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	for line := 1; sc.Scan(); line++ {
		var j jsonRecord
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			return info, nil, fmt.Errorf("conflict: %s line %d: %w", RecordsFile, line, err)
		}
		r := Record{
			Step: j.Step, Losses: floatsOf(j.Losses), Seconds: float64(j.Seconds),
			Stats: Stats{Norms: floatsOf(j.Norms), NegativeFraction: float64(j.NegativeFraction), MeanCosine: float64(j.MeanCosine),
				MinCosine: float64(j.MinCosine), CosineByDistance: floatsOf(j.CosineByDistance)},
		}
		for _, s := range j.Solutions {
			r.Solutions = append(r.Solutions, Solution{Method: s.Method, W: floatsOf(s.W), F: float64(s.F), Gap: float64(s.Gap), NormSq: float64(s.NormSq), Iterations: s.Iterations, Status: s.Status})
		}
		if j.Gram != "" {
			g, err := matio.ReadNPY(filepath.Join(dir, filepath.FromSlash(j.Gram)))
			if err != nil {
				return info, nil, fmt.Errorf("conflict: %w", err)
			}
			K, c := g.Dims()
			if K != c {
				return info, nil, fmt.Errorf("conflict: %s is %d×%d, not square", j.Gram, K, c)
			}
			sym := mat.NewSymDense(K, nil)
			for a := 0; a < K; a++ {
				for b := a; b < K; b++ {
					sym.SetSym(a, b, g.At(a, b))
				}
			}
			r.Gram, r.Cosine = sym, gram.Cosine(sym)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		return info, nil, fmt.Errorf("conflict: %w", err)
	}
	if len(recs) == 0 {
		return info, nil, errors.New("conflict: " + filepath.Join(dir, RecordsFile) + " holds no probe")
	}
	return info, recs, nil
}
