package main

import (
	"encoding/csv"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// flowCLIRelTol: the CLI computes the flow weight as w_x0/(1 + √SNR)² from
// SNR = (α/σ)², the reference below as w_x0·t² from t itself; both are a
// few float64 roundings from exact (t ≥ 1/T, so 1/t ≤ T).
const flowCLIRelTol = 1e-11

// The done-when check: on the flow schedule min-SNR-5 on the
// velocity loss is min(SNR, 5)·t² at every t with SNR > 0, with the flow
// times t = (i + 1)/T (shifted: s·t/(1 + (s − 1)t)) written out here, and
// the table's ᾱ and SNR are (1 − t)² and ((1 − t)/t)².
func TestWeightsFlowMinSNRIsMinSNRTimesTSquared(t *testing.T) {
	for _, c := range []struct {
		schedule string
		shift    float64
	}{{"flow", 1}, {"flow:shift=3", 3}} {
		const T = 1000
		stdout, stderr, code := runCLI(t, "weights", "--schedule", c.schedule, "--target", "flow", "--strategy", "min-snr:5", "--strategy", "constant", "--T", strconv.Itoa(T))
		require.Equal(t, 0, code, stderr)
		rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
		require.NoError(t, err)
		require.Equal(t, []string{"t", "alpha_bar", "snr_t", "min-snr:5", "constant"}, rows[0])
		require.Len(t, rows, T+1)
		for i, row := range rows[1:] {
			u := float64(i+1) / T
			tt := c.shift * u / (1 + (c.shift-1)*u)
			if i == T-1 {
				tt = 1
			}
			val := func(j int) float64 {
				v, err := strconv.ParseFloat(row[j], 64)
				require.NoError(t, err)
				return v
			}
			require.InDelta(t, (1-tt)*(1-tt), val(1), 1e-15, "%s i=%d ᾱ", c.schedule, i)
			snr := math.Pow((1-tt)/tt, 2)
			require.InDelta(t, 0, relDiff(val(2), snr), flowCLIRelTol, "%s i=%d SNR", c.schedule, i)
			if snr == 0 {
				require.Equal(t, 1.0, val(3), "weight 1 at SNR 0, as for every target")
				continue
			}
			require.InDelta(t, 0, relDiff(val(3), math.Min(snr, 5)*tt*tt), flowCLIRelTol, "%s i=%d min-SNR-5", c.schedule, i)
			require.InDelta(t, 0, relDiff(val(4), tt*tt), flowCLIRelTol, "%s i=%d constant", c.schedule, i)
		}
	}
}

func TestWeightsFlowBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--schedule", "flow", "--target", "v"}, "v-prediction needs a variance-preserving schedule"},
		{[]string{"--schedule", "flow", "--zero-terminal"}, "already ends at SNR 0"},
		{[]string{"--schedule", "flow:shift=-1"}, "positive finite"},
		{[]string{"--schedule", "flow:3"}, "want flow:shift=S"},
	} {
		_, stderr, code := runCLI(t, append([]string{"weights"}, c.args...)...)
		require.Equal(t, 2, code, "%v", c.args)
		require.Contains(t, stderr, c.msg, "%v", c.args)
		require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %q", stderr)
	}
}
