package demo

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/internal/golden"
	"github.com/paretodiff/paretodiff/run"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden images in testdata")

// TestTrainingFigureGolden draws training.png of a made-up run: the
// weighted losses and the x0-MSE of four timestep ranges over 2000 steps.
func TestTrainingFigureGolden(t *testing.T) {
	r := &Result{RangeLabels: []string{"[0,100)", "[200,300)", "[600,700)", "[800,900)"}, DataVar: 1}
	r.Sizes.Target, r.Sizes.Strategy = "v", "min-snr:5"
	for s := 0; s <= 2000; s += 100 {
		f := float64(s) / 2000
		loss := math.NaN() // step 0: no training loss yet
		if s > 0 {
			loss = 0.26 + 0.04*math.Exp(-8*f) + 0.003*math.Sin(11*f)
		}
		m := diffusion.Metrics{Step: s, Loss: loss, EvalLoss: 0.225 + 0.08*math.Exp(-10*f)}
		for k, base := range []float64{0.005, 0.1, 0.72, 0.92} {
			m.X0MSE = append(m.X0MSE, base*(1+0.5*math.Exp(-6*f)/float64(k+1)))
		}
		r.Records = append(r.Records, run.Record{Metrics: m})
	}
	path := filepath.Join(t.TempDir(), "training.png")
	require.NoError(t, r.trainingFigure(path))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	golden.PNG(t, filepath.Join("testdata", "training.png"), got, *update)
}
