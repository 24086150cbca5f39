package gram_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

// ditOn is a DiT seen through another backend value (plainBackend hides
// the ragged GEMM): the same layers and buffers.
type ditOn struct {
	*nn.DiT
	be nn.Backend
}

func (d ditOn) Backend() nn.Backend { return d.be }

// newTestDiT builds a DiT of cfg on be and moves every parameter off its
// initial value by U(±0.3): adaLN-Zero starts every gate and the final
// layer at zero, where most layers' gradients vanish and would test
// nothing.
func newTestDiT(t *testing.T, be nn.Backend, cfg nn.DiTConfig, seed uint64) *nn.DiT {
	t.Helper()
	net, err := nn.InitDiT(be, cfg, seed)
	require.NoError(t, err)
	ps := net.Params()
	host := make([]float32, ps.Len())
	be.Download(host, ps.Flat)
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range host {
		host[i] += float32(0.3 * (2*rng.Float64() - 1))
	}
	be.Upload(ps.Flat, host)
	return net
}

// tinyDiT is the DiT of the tests: 4×4 images of two channels in 2×2
// patches (L = 4 tokens of 8 values), width 8, 2 heads, 2 blocks, MLP
// width 16, an 8-value timestep embedding.
func tinyDiT(learnedPos, skips bool) nn.DiTConfig {
	c := nn.DiTConfig{Channels: 2, Side: 4, Patch: 2, Width: 8, Depth: 2, Heads: 2, MLPRatio: 2, FreqDim: 8, LearnedPos: learnedPos}
	if skips {
		c.SigmaData, c.Skip = 0.5, true
	}
	return c
}

// The one-pass Gram of a DiT equals the brute-force K-pass Gram
// (BinGradients, one pass per bin) on every entry, on the float64 twin and
// on float32 (the 1e-5), with the fixed and the learned position
// table, with and without the input skips, for K = 1, 3 and 8 with unequal
// and empty bins, every target (eps, x0, v on the cosine schedule, flow on
// the flow schedule), Auto, Ghost (both block layouts, with and without
// the ragged GEMM) and Materialize, c nil and given.
func TestPassDiTMatchesBruteForce(t *testing.T) {
	cosine := diffusion.Cosine(1000)
	flow, err := diffusion.FlowSchedule(1000, 3)
	require.NoError(t, err)
	type objective struct {
		sched  *diffusion.Schedule
		target weighting.Target
	}
	objs := []objective{{cosine, weighting.Eps}, {cosine, weighting.X0}, {cosine, weighting.V}, {flow, weighting.Flow}}
	binnings := [][]int{{5}, {3, 1, 2}, {2, 0, 4}, {1, 2, 0, 3, 1, 2, 1, 2}}
	worst := map[string]float64{}
	for _, be32 := range []bool{false, true} {
		for ci, cfg := range []nn.DiTConfig{tinyDiT(false, false), tinyDiT(true, false), tinyDiT(true, true), tinyDiT(false, true)} {
			for _, o := range objs {
				for bi, counts := range binnings {
					var be nn.Backend = nn.NewCPU64()
					if be32 {
						be = nn.NewCPU()
					}
					net := newTestDiT(t, be, cfg, uint64(11+ci))
					obj := diffusion.NewObjective(net, o.sched, o.target)
					b := gramBatch(gaussD(net.Dim()), counts, uint64(bi+1))
					// A subset of parameters on the unequal bins of K = 8.
					ps := "all"
					if len(counts) == 8 && be32 {
						ps = "pos,patch.bias,block0.qkv.weight,block1.adaln.bias,block1.fc2.*,final.*,time1.weight"
					}
					sel := selector(ps)
					want, wantLoss := seqBrute(t, obj, b, counts, sel)
					c := make([]float64, b.Len())
					for r, tt := range b.T {
						c[r] = weighting.Weight(weighting.MinSNR{Gamma: 5}, o.target, o.sched.SNR(tt)) / float64(b.Len())
					}
					for _, v := range seqVariants {
						vobj := obj
						if v.plain {
							vobj = diffusion.NewObjective(ditOn{net, plainBackend{be}}, o.sched, o.target)
						}
						g, err := gram.NewPass(vobj, gram.Config{Params: sel, Method: v.method, Blocks: v.blocks})
						require.NoError(t, err)
						name := fmt.Sprintf("%s/pos=%v/skips=%v/%v/%v/bins%d/%s/%v", be.Name(), cfg.LearnedPos, cfg.Skip, o.sched.Name(), o.target, bi, ps, v)
						checkSeqRuns(t, name, g, b, counts, c, v, be32, want, wantLoss, worst)
					}
				}
			}
		}
	}
	for kind, w := range worst {
		t.Logf("%s: worst relative error %.3g", kind, w)
	}
}

// The DiT small preset at MNIST's size (28×28, 49 tokens, width 64) on
// float32, a few examples per bin: the Gram meets the 1e-5 with
// every method, and Auto materialises the token-wise layers even at this
// small B·T while the per-example layers take the ghost products.
func TestPassDiTSmallPreset(t *testing.T) {
	cfg, err := nn.DiTPreset("small")
	require.NoError(t, err)
	cfg.Channels, cfg.Side, cfg.LearnedPos = 1, 28, true
	be := nn.NewCPU()
	net := newTestDiT(t, be, cfg, 3)
	sched := diffusion.Cosine(1000)
	obj := diffusion.NewObjective(net, sched, weighting.Eps)
	// NewPass reads the sites of a network that has made no pass yet.
	fresh, err := gram.NewPass(obj, gram.Config{})
	require.NoError(t, err)
	counts := []int{2, 1, 3}
	b := gramBatch(gaussD(net.Dim()), counts, 4)
	want, _ := seqBrute(t, obj, b, counts, nil)
	c := make([]float64, b.Len())
	for r, tt := range b.T {
		c[r] = weighting.Weight(weighting.MinSNR{Gamma: 5}, weighting.Eps, sched.SNR(tt)) / float64(b.Len())
	}
	for _, m := range []gram.Method{gram.Auto, gram.Ghost, gram.Materialize} {
		g := fresh
		if m != gram.Auto {
			g, err = gram.NewPass(obj, gram.Config{Method: m})
			require.NoError(t, err)
		}
		res, err := g.Run(b, counts, c)
		require.NoError(t, err)
		w := gramCloseBins(t, m.String(), want, counts, res.Gram, gramRelTol32)
		t.Logf("%v: worst relative error %.3g, %d ghost, %d materialised", m, w, res.Ghost, res.Materialized)
		if m == gram.Auto {
			// Bins {2, 1, 3}: Σ_k n_k·e_k = 25, K(K+1)/2 = 6. A token layer
			// (T = 49) such as qkv (64→192) costs 256·49²·25 = 1.5e7 by
			// ghost products against (6·49 + 16·6)·64·192 = 4.8e6
			// materialised, and patch, proj, fc1, fc2 and final.linear
			// likewise (4 per block and 2); a per-example one such as time1
			// (256→64) costs 320·25 = 8000 against (6 + 96)·16384 = 1.7e6:
			// time1, time2 and the 4 + 1 adaLNs take the ghost products.
			require.Equal(t, 7, res.Ghost)
			require.Equal(t, 4*4+2, res.Materialized)
		}
	}
}
