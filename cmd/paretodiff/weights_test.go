package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/internal/golden"
	"github.com/paretodiff/paretodiff/internal/jsonnum"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// cliRelTol: the CLI prints shortest round-trip float64 strings, and the
// reference below recomputes ᾱ_t with its own loop and the weights with their
// textbook formulas, so the two differ only by float64 rounding.
const cliRelTol = 1e-11

// runCLI runs the command in-process and returns stdout, stderr and status.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(args, &out, &errb)
	return out.String(), errb.String(), code
}

// refAlphaBar recomputes ᾱ_t from the schedules' formulas (package diffusion's doc), without package diffusion.
func refAlphaBar(name string, T int, zeroTerminal bool) []float64 {
	betas := make([]float64, T)
	for t := range betas {
		switch name {
		case "cosine":
			f := func(s float64) float64 { return math.Pow(math.Cos((s+0.008)/1.008*math.Pi/2), 2) }
			betas[t] = math.Min(1-f(float64(t+1)/float64(T))/f(float64(t)/float64(T)), 0.999)
		case "linear":
			lo, hi := 1e-4*1000/float64(T), 0.02*1000/float64(T)
			betas[t] = lo + (hi-lo)*float64(t)/float64(T-1)
		case "scaled-linear":
			lo, hi := math.Sqrt(0.00085), math.Sqrt(0.012)
			betas[t] = math.Pow(lo+(hi-lo)*float64(t)/float64(T-1), 2)
		}
	}
	ab := make([]float64, T)
	p := 1.0
	for t, b := range betas {
		p *= 1 - b
		ab[t] = p
	}
	if zeroTerminal {
		first, last := math.Sqrt(ab[0]), math.Sqrt(ab[T-1])
		for t := range ab {
			ab[t] = math.Pow((math.Sqrt(ab[t])-last)*first/(first-last), 2)
		}
	}
	return ab
}

// refWeight is each strategy's weight for a target, written out by hand.
func refWeight(spec, target string, snr float64) float64 {
	if snr == 0 {
		return 1
	}
	var x0 float64
	switch spec {
	case "constant":
		x0 = 1
	case "snr":
		x0 = snr
	case "max-snr:1":
		x0 = math.Max(snr, 1)
	case "min-snr:5":
		x0 = math.Min(snr, 5)
	case "soft-min-snr:5":
		x0 = 5 * snr / (snr + 5)
	case "inv-snr":
		x0 = 1 / snr
	case "p2:1,0.5":
		x0 = snr / math.Sqrt(1+snr)
	case "debiased":
		x0 = math.Sqrt(snr)
	case "edm:0.5":
		x0 = (1 + 0.25*snr) / 0.25
	default:
		panic(spec)
	}
	switch target {
	case "eps":
		return x0 / snr
	case "v":
		return x0 / (snr + 1)
	}
	return x0
}

func TestWeightsEveryCombinationAgainstReference(t *testing.T) {
	specs := []string{"constant", "snr", "max-snr:1", "min-snr:5", "soft-min-snr:5", "inv-snr", "p2:1,0.5", "debiased", "edm:0.5"}
	for _, schedule := range diffusion.ScheduleNames {
		for _, zt := range []bool{false, true} {
			for _, target := range []string{"eps", "x0", "v"} {
				args := []string{"weights", "--schedule", schedule, "--target", target, "--T", "1000"}
				if zt {
					args = append(args, "--zero-terminal")
				}
				for _, s := range specs {
					args = append(args, "--strategy", s)
				}
				stdout, stderr, code := runCLI(t, args...)
				require.Equal(t, 0, code, stderr)
				rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
				require.NoError(t, err)
				require.Equal(t, append([]string{"t", "alpha_bar", "snr_t"}, specs...), rows[0])
				require.Len(t, rows, 1001)
				ab := refAlphaBar(schedule, 1000, zt)
				for i, row := range rows[1:] {
					require.Equal(t, strconv.Itoa(i), row[0])
					gotAB, _ := strconv.ParseFloat(row[1], 64)
					require.InDelta(t, 0, relDiff(gotAB, ab[i]), cliRelTol, "%s zt=%v t=%d ᾱ", schedule, zt, i)
					snr := ab[i] / (1 - ab[i])
					for j, s := range specs {
						got, err := strconv.ParseFloat(row[3+j], 64)
						require.NoError(t, err)
						want := refWeight(s, target, snr)
						require.InDelta(t, 0, relDiff(got, want), cliRelTol, "%s zt=%v %s %s t=%d: got %g want %g", schedule, zt, target, s, i, got, want)
					}
				}
			}
		}
	}
}

// The headline check: v-prediction min-SNR-5 is min(SNR,5)/(SNR+1).
func TestWeightsVMinSNR(t *testing.T) {
	stdout, _, code := runCLI(t, "weights", "--target", "v", "--strategy", "min-snr:5")
	require.Equal(t, 0, code)
	rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"t", "alpha_bar", "snr_t", "min-snr:5"}, rows[0])
	for _, row := range rows[1:] {
		snr, _ := strconv.ParseFloat(row[2], 64)
		w, _ := strconv.ParseFloat(row[3], 64)
		require.Equal(t, math.Min(snr, 5)/(snr+1), w)
	}
}

func relDiff(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return (got - want) / want
}

func TestWeightsJSONAndFiles(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "w.json")
	_, stderr, code := runCLI(t, "weights", "--format", "json", "--out", out, "--T", "50", "--strategy", "min-snr:5", "--strategy", "p2:1,1", "--target", "x0")
	require.Equal(t, 0, code, stderr)
	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	var tab weightTable
	require.NoError(t, json.Unmarshal(raw, &tab))
	require.Equal(t, 50, tab.T)
	require.Equal(t, "x0", tab.Target)
	require.Equal(t, []string{"min-snr:5", "p2:1,1"}, tab.Strategies)
	for i, snr := range tab.SNR {
		require.Equal(t, math.Min(snr, 5), tab.Weights["min-snr:5"][i])
	}
	sched, err := diffusion.NewSchedule("cosine", 50, false)
	require.NoError(t, err)
	require.Equal(t, jsonnum.Floats(sched.LogSNRs()), tab.LogSNR, "log_snr is the schedule's, bit for bit")

	for _, ext := range []string{"png", "svg", "pdf"} {
		p := filepath.Join(dir, "w."+ext)
		_, stderr, code = runCLI(t, "weights", "--T", "100", "--plot", p, "--out", filepath.Join(dir, "w.csv"))
		require.Equal(t, 0, code, stderr)
		st, err := os.Stat(p)
		require.NoError(t, err)
		require.Greater(t, st.Size(), int64(1000))
	}
}

func TestWeightsBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--strategy", "min-snr:-1"}, "γ must be positive"},
		{[]string{"--strategy", "wat"}, `unknown weighting "wat"`},
		{[]string{"--strategy", "pareto:fw"}, `"pareto:fw" is computed during training`},
		{[]string{"--strategy", "snr", "--strategy", "snr"}, "given twice"},
		{[]string{"--target", "score"}, `unknown target "score"`},
		{[]string{"--schedule", "sigmoid"}, `unknown schedule "sigmoid"`},
		{[]string{"--T", "1"}, "T ≥ 2"},
		{[]string{"--T", "abc"}, `invalid argument "abc"`},
		{[]string{"--schedule", "linear", "--T", "10"}, "β_"},
		{[]string{"--format", "xml"}, `--format "xml"`},
		{[]string{"--plot", filepath.Join(dir, "w.gif")}, "unsupported image format"},
		{[]string{"--out", filepath.Join(dir, "missing", "w.csv")}, "cannot write"},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"extra"}, "unknown command"},
	} {
		stdout, stderr, code := runCLI(t, append([]string{"weights"}, c.args...)...)
		require.Equal(t, 2, code, "%v", c.args)
		require.Contains(t, stderr, c.msg, "%v", c.args)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		require.True(t, strings.HasPrefix(stderr, "paretodiff: "), stderr)
		require.Empty(t, stdout, "%v: nothing printed on bad input", c.args)
	}
	entries, _ := os.ReadDir(dir)
	require.Empty(t, entries, "no file is left behind on bad input")
}

// The weights figure is compared with a golden image (go test -update to
// rewrite it after an intended change).
func TestWeightsFigureGolden(t *testing.T) {
	sched := diffusion.Cosine(1000)
	var names []string
	var strategies []weighting.Strategy
	for _, spec := range weighting.PaperStrategies {
		names = append(names, spec)
		strategies = append(strategies, weighting.MustParse(spec))
	}
	var buf bytes.Buffer
	require.NoError(t, reproduce.WeightsFigure(sched, names, strategies).WriteTo(&buf, "png"))
	golden.PNG(t, filepath.Join("testdata", "weights_golden.png"), buf.Bytes(), *update)
}
