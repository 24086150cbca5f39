package plots

import (
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot"
)

// labelsOf returns the labelled ticks' labels.
func labelsOf(ts []plot.Tick) []string {
	var out []string
	for _, t := range ts {
		if t.Label != "" {
			out = append(out, t.Label)
		}
	}
	return out
}

func TestTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi  float64
		integer bool
		want    []string
	}{
		// Training steps: no decimals.
		{0, 5000, true, []string{"0", "1000", "2000", "3000", "4000", "5000"}},
		{0, 5000, false, []string{"0", "1000", "2000", "3000", "4000", "5000"}},
		{20, 40, true, []string{"20", "25", "30", "35", "40"}},
		// Bins apart 1–7: integer steps, never 2.5.
		{1, 7, true, []string{"2", "4", "6"}},
		{1, 3, true, []string{"1", "2", "3"}},
		// An integer axis never gets a fractional step, even a short one.
		{4999, 5001, true, []string{"4999", "5000", "5001"}},
		// As many decimals as the step needs, the same on every label.
		{-0.3, 1.05, false, []string{"-0.25", "0.00", "0.25", "0.50", "0.75", "1.00"}},
		{0, 0.9, false, []string{"0.0", "0.2", "0.4", "0.6", "0.8"}},
		{0.0105, 0.0123, false, []string{"0.0105", "0.0110", "0.0115", "0.0120"}},
		{-2, 2, false, []string{"-2", "-1", "0", "1", "2"}},
	} {
		require.Equal(t, c.want, labelsOf(Ticks{Integer: c.integer}.Ticks(c.lo, c.hi)), "[%g, %g]", c.lo, c.hi)
	}
	require.Equal(t, []string{"5"}, labelsOf(Ticks{}.Ticks(5, 5)), "a degenerate range labels its value")
	for _, tk := range (Ticks{Integer: true}).Ticks(0, 17) {
		require.Equal(t, float64(int(tk.Value)), tk.Value, "integer axes tick integers only")
	}
}

func TestLogTicks(t *testing.T) {
	// Up to three decades: 1, 2 and 5 times the powers.
	require.Equal(t, []string{"0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"}, labelsOf(LogTicks{}.Ticks(0.009, 1.1)))
	// Up to seven: every power, decimals within 1e-4…1e4.
	require.Equal(t, []string{"1e-6", "1e-5", "0.0001", "0.001", "0.01", "0.1", "1"}, labelsOf(LogTicks{}.Ticks(5e-7, 1.5)))
	// Fifteen: every third power.
	require.Equal(t, []string{"1e-6", "0.001", "1", "1000", "1e6"}, labelsOf(LogTicks{}.Ticks(3e-9, 2e6)))
	// Less than a decade: linear steps.
	require.Equal(t, []string{"0.4", "0.6", "0.8", "1.0"}, labelsOf(LogTicks{}.Ticks(0.3, 1.05)))
	require.Nil(t, LogTicks{}.Ticks(0, 1))
}
