package reproduce

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Weights computes without writing; Render writes the files and its
// verdicts follow the deviations it is given.
func TestWeightsComputeThenRender(t *testing.T) {
	res, err := Weights(context.Background(), nil)
	require.NoError(t, err)
	require.Len(t, res.Columns, 12)
	require.LessOrEqual(t, res.Identity, weightsRelTol)
	require.InDelta(t, weightsGamma, res.MaxX0, exactTol)
	require.Greater(t, res.CapT, 0)

	dir := t.TempDir()
	r, err := res.Render(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"weights.png", "weights.csv", "weights_flow.png", "weights_flow.csv"}, r.Files)
	for _, f := range r.Files {
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
	}
	rows := readCSV(t, filepath.Join(dir, "weights.csv"))
	require.Len(t, rows, 1+res.Schedule.T())
	require.Len(t, res.FlowColumns, 12)
	require.LessOrEqual(t, res.DevFlow, weightsRelTol)
	require.LessOrEqual(t, res.FlowIdentity, weightsRelTol)
	frows := readCSV(t, filepath.Join(dir, "weights_flow.csv"))
	require.Len(t, frows, 1+res.Flow.T())
	require.Equal(t, []string{"i", "t", "snr_t", "eps:constant"}, frows[0][:4])
	require.Equal(t, Agrees, r.Overall())

	// A weight off its closed form is reported as such.
	res.DevV = 1e-3
	r, err = res.Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, []Verdict{Agrees, Agrees, Disagrees, Agrees, Agrees}, verdicts(r))
	require.Contains(t, r.Findings[2].Measured, "0.001")
	res.DevV, res.DevFlow = 0, 2e-3
	r, err = res.Render(t.TempDir())
	require.NoError(t, err)
	require.Equal(t, []Verdict{Agrees, Agrees, Agrees, Agrees, Disagrees}, verdicts(r))
	require.Contains(t, r.Findings[4].Measured, "0.002")
}

// verdicts lists a report's verdicts in order.
func verdicts(r *Report) []Verdict {
	var vs []Verdict
	for _, f := range r.Findings {
		vs = append(vs, f.Verdict)
	}
	return vs
}

// The compute functions of weights, fig2, fig3 and fig4 write nothing into
// their target's folder (only the model cache); Render writes there.
func TestComputeWritesNoTargetFiles(t *testing.T) {
	env := &Env{Scale: Smoke, Out: t.TempDir(), Seed: 1}
	computes := map[string]func(context.Context, *Env) (Result, error){
		"weights": func(ctx context.Context, env *Env) (Result, error) { return Weights(ctx, env) },
		"fig2":    func(ctx context.Context, env *Env) (Result, error) { return Fig2(ctx, env) },
		"fig3":    func(ctx context.Context, env *Env) (Result, error) { return Fig3(ctx, env) },
		"fig4":    func(ctx context.Context, env *Env) (Result, error) { return Fig4(ctx, env) },
	}
	for name, compute := range computes {
		res, err := compute(context.Background(), env)
		require.NoError(t, err, name)
		entries, err := os.ReadDir(env.Out)
		require.NoError(t, err)
		for _, e := range entries {
			require.Equal(t, "models", e.Name(), "%s wrote only into the model cache", name)
		}
		dir := filepath.Join(t.TempDir(), name)
		require.NoError(t, os.Mkdir(dir, 0o755))
		r, err := res.Render(dir)
		require.NoError(t, err, name)
		for _, f := range r.Files {
			_, err := os.Stat(filepath.Join(dir, f))
			require.NoError(t, err, "%s: %s", name, f)
		}
	}
}
