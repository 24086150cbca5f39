package gram_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// On the flow schedule the one-pass Gram equals the brute-force K-pass Gram
// for the flow velocity and the targets that work there, with and without
// input skips and with min-SNR-5's velocity weights min(SNR, 5)·t² as the
// training coefficients.
func TestPassMatchesBruteForceOnFlow(t *testing.T) {
	sched, err := diffusion.FlowSchedule(1000, 3)
	require.NoError(t, err)
	counts := []int{3, 4, 2}
	for _, cfg := range []nn.ResMLPConfig{
		{Dim: 3, Width: 6, Depth: 1, Hidden: 10, TimeDim: 4, Act: nn.GELU},
		{Dim: 3, Width: 6, Depth: 2, Hidden: 10, TimeDim: 4, SigmaData: 0.5, Skip: true},
	} {
		for _, target := range []weighting.Target{weighting.Flow, weighting.X0, weighting.Eps} {
			for _, method := range []gram.Method{gram.Ghost, gram.Materialize} {
				name := fmt.Sprintf("skip=%v/%v/%v", cfg.Skip, target, method)
				net, err := nn.InitResMLP(nn.NewCPU64(), cfg, 5)
				require.NoError(t, err)
				obj := diffusion.NewObjective(net, sched, target)
				b := gramBatch(gauss3{}, counts, 2)
				want, wantLoss := bruteGram(t, obj, b, counts, nil, nil)
				g, err := gram.NewPass(obj, gram.Config{Method: method})
				require.NoError(t, err)
				c := make([]float64, b.Len())
				for r, tt := range b.T {
					c[r] = weighting.Weight(weighting.MinSNR{Gamma: 5}, target, sched.SNR(tt)) / float64(b.Len())
				}
				res, err := g.Run(b, counts, c)
				require.NoError(t, err, name)
				gramClose(t, name, want, res.Gram, gramRelTol64)
				for k := range wantLoss {
					require.InDelta(t, wantLoss[k], res.BinLoss[k], 1e-6*wantLoss[k], name)
				}
			}
		}
	}
}
