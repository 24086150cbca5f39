package conflict

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/internal/jsonnum"
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
	// Methods, Lambda and Normalizer are the Pareto solves' settings, and
	// MTLOptions the aggregators' hyper-parameters (mtl.Config.String;
	// absent, "", for the defaults, as in logs written before the option).
	Methods    []string `json:"methods"`
	Lambda     float64  `json:"lambda"`
	Normalizer string   `json:"normalizer"`
	MTLOptions string   `json:"mtl_options,omitempty"`
	// Fresh says whether each probe drew a new batch; Seed seeds them.
	Fresh bool   `json:"fresh"`
	Seed  uint64 `json:"seed"`
	// Gram is how the Gram was formed: "one-pass" or "reference".
	Gram string `json:"gram"`
	// GramEstimator is how it was estimated: "split" for the split-half
	// estimator (ProbeConfig.Estimator); absent ("") for the plain one, as
	// in logs written before the option.
	GramEstimator string `json:"gram_estimator,omitempty"`
}

// Estimator returns the info's Gram estimator (gram.Plain when the log
// names none).
func (i Info) Estimator() (gram.Estimator, error) {
	e, err := gram.ParseEstimator(i.GramEstimator)
	if err != nil {
		return e, fmt.Errorf("conflict: %w", err)
	}
	return e, nil
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
	how := "one-pass"
	if c.Reference {
		how = "reference"
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
		Fresh: c.Fresh, Seed: c.Seed, Gram: how,
	}
	if c.Estimator != gram.Plain {
		info.GramEstimator = c.Estimator.String()
	}
	if !c.NoSolve {
		info.Methods, info.Lambda, info.Normalizer = c.Solve.methods(), c.Solve.Lambda, c.Solve.Normalizer.String()
		info.MTLOptions = c.Solve.Options.String()
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
// seconds, gram and cosine (the NPY paths, relative to the folder); with
// the split estimator also signal (each bin's signal fraction) and
// projection ({min_eigenvalue, clipped, shift}, gram.Projection).
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

type jsonSolution struct {
	Method     string          `json:"method"`
	W          []jsonnum.Float `json:"w"`
	F          jsonnum.Float   `json:"f"`
	Gap        jsonnum.Float   `json:"gap"`
	NormSq     jsonnum.Float   `json:"norm_sq"`
	Iterations int             `json:"iterations"`
	Status     string          `json:"status"`
}

type jsonRecord struct {
	Step             int             `json:"step"`
	Losses           []jsonnum.Float `json:"losses"`
	Norms            []jsonnum.Float `json:"norms"`
	NegativeFraction jsonnum.Float   `json:"negative_fraction"`
	MeanCosine       jsonnum.Float   `json:"mean_cosine"`
	MinCosine        jsonnum.Float   `json:"min_cosine"`
	CosineByDistance []jsonnum.Float `json:"cosine_by_distance"`
	Solutions        []jsonSolution  `json:"solutions,omitempty"`
	Seconds          jsonnum.Float   `json:"seconds"`
	Gram             string          `json:"gram,omitempty"`
	Cosine           string          `json:"cosine,omitempty"`
	Signal           []jsonnum.Float `json:"signal,omitempty"`
	Projection       *jsonProjection `json:"projection,omitempty"`
}

type jsonProjection struct {
	MinEigenvalue jsonnum.Float `json:"min_eigenvalue"`
	Clipped       int           `json:"clipped"`
	Shift         jsonnum.Float `json:"shift"`
}

func (r Record) marshal(gramPath, cosinePath string) ([]byte, error) {
	j := jsonRecord{
		Step: r.Step, Losses: jsonnum.Floats(r.Losses), Norms: jsonnum.Floats(r.Stats.Norms), NegativeFraction: jsonnum.Float(r.Stats.NegativeFraction),
		MeanCosine: jsonnum.Float(r.Stats.MeanCosine), MinCosine: jsonnum.Float(r.Stats.MinCosine), CosineByDistance: jsonnum.Floats(r.Stats.CosineByDistance),
		Seconds: jsonnum.Float(r.Seconds),
	}
	if r.Gram != nil {
		j.Gram = filepath.ToSlash(gramPath)
	}
	if r.Cosine != nil {
		j.Cosine = filepath.ToSlash(cosinePath)
	}
	j.Signal = jsonnum.Floats(r.Signal)
	if p := r.Projection; p != nil {
		j.Projection = &jsonProjection{MinEigenvalue: jsonnum.Float(p.MinEigenvalue), Clipped: p.Clipped, Shift: jsonnum.Float(p.Shift)}
	}
	for _, s := range r.Solutions {
		j.Solutions = append(j.Solutions, jsonSolution{Method: s.Method, W: jsonnum.Floats(s.W), F: jsonnum.Float(s.F), Gap: jsonnum.Float(s.Gap), NormSq: jsonnum.Float(s.NormSq), Iterations: s.Iterations, Status: s.Status})
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("conflict: encoding the record of step %d: %w", r.Step, err)
	}
	return b, nil
}

// ReadLog reads a folder written by Log: its Info and every record, with
// its Gram matrix read back from the NPY file and the cosine matrix
// recomputed from it. A log that is truncated, corrupted or not one is an
// error naming the file (and the line of RecordsFile), never a panic; what
// it returns is consistent: the Info's bins are valid (FromEdges) with a
// label each, and every record has a loss, a norm, a cosine-by-distance
// entry and a solution weight per bin, and a K×K Gram matrix read from a
// file inside dir.
func ReadLog(dir string) (Info, []Record, error) {
	info, err := readInfo(filepath.Join(dir, InfoFile))
	if err != nil {
		return Info{}, nil, err
	}
	path := filepath.Join(dir, RecordsFile)
	f, err := os.Open(path)
	if err != nil {
		return Info{}, nil, fmt.Errorf("conflict: %w", err)
	}
	defer f.Close()
	var recs []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), maxRecordLine)
	line := 0
	for sc.Scan() {
		line++
		r, err := readRecord(dir, sc.Bytes(), len(info.Edges)-1)
		if err != nil {
			return Info{}, nil, fmt.Errorf("conflict: %s line %d: %w", path, line, err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("longer than %d bytes", maxRecordLine)
		}
		return Info{}, nil, fmt.Errorf("conflict: %s line %d: %w", path, line+1, err)
	}
	if len(recs) == 0 {
		return Info{}, nil, errors.New("conflict: " + path + " holds no probe")
	}
	return info, recs, nil
}

// maxRecordLine bounds a line of RecordsFile (a record of K bins holds
// O(K) numbers; 64 MiB is far above any K a Gram matrix allows).
const maxRecordLine = 1 << 26

// readInfo reads and checks InfoFile.
func readInfo(path string) (Info, error) {
	var info Info
	raw, err := os.ReadFile(path)
	if err != nil {
		return info, fmt.Errorf("conflict: %w", err)
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		return info, fmt.Errorf("conflict: %s: %w", path, err)
	}
	if _, err := weighting.FromEdges(info.T, info.Edges); err != nil {
		return info, fmt.Errorf("conflict: %s: %w", path, err)
	}
	if K := len(info.Edges) - 1; len(info.Labels) != K {
		return info, fmt.Errorf("conflict: %s: %d bin labels for %d bins", path, len(info.Labels), K)
	}
	if _, err := gram.ParseEstimator(info.GramEstimator); err != nil {
		return info, fmt.Errorf("conflict: %s: %w", path, err)
	}
	return info, nil
}

// readRecord decodes one line of RecordsFile for K bins, reading its Gram
// matrix from dir.
func readRecord(dir string, line []byte, K int) (Record, error) {
	var j jsonRecord
	if err := json.Unmarshal(line, &j); err != nil {
		return Record{}, err
	}
	if j.Step < 0 {
		return Record{}, fmt.Errorf("step %d is negative", j.Step)
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"losses", len(j.Losses)}, {"norms", len(j.Norms)}, {"cosine_by_distance", len(j.CosineByDistance)}} {
		if v.n != K {
			return Record{}, fmt.Errorf("%s has %d values for %d bins", v.name, v.n, K)
		}
	}
	r := Record{
		Step: j.Step, Losses: jsonnum.Values(j.Losses), Seconds: float64(j.Seconds),
		Stats: Stats{Norms: jsonnum.Values(j.Norms), NegativeFraction: float64(j.NegativeFraction), MeanCosine: float64(j.MeanCosine),
			MinCosine: float64(j.MinCosine), CosineByDistance: jsonnum.Values(j.CosineByDistance)},
	}
	if j.Signal != nil {
		if len(j.Signal) != K {
			return Record{}, fmt.Errorf("signal has %d values for %d bins", len(j.Signal), K)
		}
		r.Signal = jsonnum.Values(j.Signal)
	}
	if p := j.Projection; p != nil {
		r.Projection = &gram.Projection{MinEigenvalue: float64(p.MinEigenvalue), Clipped: p.Clipped, Shift: float64(p.Shift)}
	}
	for _, s := range j.Solutions {
		if len(s.W) != K {
			return Record{}, fmt.Errorf("solution %q has %d weights for %d bins", s.Method, len(s.W), K)
		}
		r.Solutions = append(r.Solutions, Solution{Method: s.Method, W: jsonnum.Values(s.W), F: float64(s.F), Gap: float64(s.Gap), NormSq: float64(s.NormSq), Iterations: s.Iterations, Status: s.Status})
	}
	if j.Gram != "" {
		rel := filepath.FromSlash(j.Gram)
		if !filepath.IsLocal(rel) {
			return Record{}, fmt.Errorf("gram %q is not a file inside the log's folder", j.Gram)
		}
		g, err := matio.ReadNPY(filepath.Join(dir, rel))
		if err != nil {
			return Record{}, err
		}
		if rows, cols := g.Dims(); rows != K || cols != K {
			return Record{}, fmt.Errorf("gram %s is %d×%d; want %d×%d for %d bins", j.Gram, rows, cols, K, K, K)
		}
		sym := mat.NewSymDense(K, nil)
		for a := 0; a < K; a++ {
			for b := a; b < K; b++ {
				sym.SetSym(a, b, g.At(a, b))
			}
		}
		r.Gram, r.Cosine = sym, gram.Cosine(sym)
	}
	return r, nil
}
