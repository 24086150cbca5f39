package conflict_test

import (
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

func TestInfoHelpers(t *testing.T) {
	var info conflict.Info
	n, err := info.Norm()
	require.NoError(t, err)
	require.Equal(t, pareto.NormNone, n)
	task, err := info.TaskStrategy()
	require.NoError(t, err)
	require.Equal(t, weighting.Constant{}, task)
	_, err = info.NoiseSchedule()
	require.ErrorContains(t, err, "conflict: the log's schedule")
	info = conflict.Info{Schedule: "linear", T: 100, ZeroTerminal: true, Normalizer: "l2", Task: "min-snr:5"}
	s, err := info.NoiseSchedule()
	require.NoError(t, err)
	require.Equal(t, 100, s.T())
	require.True(t, s.IsZeroTerminal())
	n, err = info.Norm()
	require.NoError(t, err)
	require.Equal(t, pareto.NormL2, n)
	info.Normalizer, info.Task = "l3", "min-snr:x"
	_, err = info.Norm()
	require.Error(t, err)
	_, err = info.TaskStrategy()
	require.Error(t, err)

	g := mat.NewSymDense(2, []float64{3, 1, 1, 5})
	require.Equal(t, 0.5*(3+5)/2.0, conflict.RelativeLambda(g, 0.5))
}
