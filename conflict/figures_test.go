package conflict_test

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/internal/golden"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

var update = flag.Bool("update", false, "rewrite the golden images in testdata")

// figureInfo has four bins of 250 timesteps.
var figureInfo = conflict.Info{Edges: []int{0, 250, 500, 750, 1000}, Labels: []string{"0-249", "250-499", "500-749", "750-999"}, Task: "constant"}

// figureRecord is a probe at step whose four bins' gradients share a
// direction that fades over training, with fw and ugd weights.
func figureRecord(step int) conflict.Record {
	f := float64(step) / 2000
	const K, P = 4, 6
	v := mat.NewDense(K, P, nil)
	for k := range K {
		for p := range P {
			shared := (1 - 0.8*f) * math.Cos(float64(p))
			own := 0.6 * math.Sin(float64(3*k+5*p)+4*f)
			v.Set(k, p, math.Pow(1.8, float64(k))*(shared+own))
		}
	}
	g := mat.NewSymDense(K, nil)
	g.SymOuterK(1, v)
	w := []float64{0.55 - 0.2*f, 0.25, 0.12 + 0.1*f, 0.08 + 0.1*f}
	return conflict.Record{
		Step: step, Losses: []float64{0.1, 0.3, 0.6, 0.9}, Gram: g, Cosine: gram.Cosine(g), Stats: conflict.Summarize(g),
		Solutions: []conflict.Solution{{Method: "fw", W: w}, {Method: "ugd", W: w}},
	}
}

// checkFigures draws recs and compares every figure with
// testdata/prefix_NAME.png.
func checkFigures(t *testing.T, prefix string, recs []conflict.Record, want []string) {
	t.Helper()
	dir := t.TempDir()
	files, err := conflict.WriteFigures(dir, figureInfo, diffusion.Cosine(1000), recs, conflict.FigureOptions{})
	require.NoError(t, err)
	require.Len(t, files, len(want))
	for i, name := range want {
		require.Equal(t, filepath.Join(dir, name+".png"), files[i])
		got, err := os.ReadFile(files[i])
		require.NoError(t, err)
		golden.PNG(t, filepath.Join("testdata", prefix+"_"+name+".png"), got, *update)
	}
}

// TestFiguresGolden: the figures of five probes over training.
func TestFiguresGolden(t *testing.T) {
	var recs []conflict.Record
	for s := 0; s <= 2000; s += 500 {
		recs = append(recs, figureRecord(s))
	}
	checkFigures(t, "probes", recs, []string{conflict.CosineFigure, conflict.StatsFigure, conflict.WeightsFigure})
}

// TestOneProbeFiguresGolden: one probe (conflict --checkpoint) has no
// course over training: stats.png draws what one probe shows, weights.png
// one panel.
func TestOneProbeFiguresGolden(t *testing.T) {
	checkFigures(t, "one", []conflict.Record{figureRecord(2000)}, []string{conflict.CosineFigure, conflict.StatsFigure, conflict.WeightsFigure})
}
