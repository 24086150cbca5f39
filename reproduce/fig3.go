package reproduce

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/solvers"
	"github.com/paretodiff/paretodiff/weighting"
)

// Fig3Sizes are the settings of fig3 beyond the models'.
type Fig3Sizes struct {
	// Bins is the bin spec of the tasks (weighting.ParseBins; the probes'
	// main bins).
	Bins string
	// PerBin are the numbers n of examples per bin compared.
	PerBin []int
	// Draws is the number of independent batches at each n.
	Draws int
	// Reference is the examples per bin of the reference batch that sets λ
	// and whose weights are drawn for comparison.
	Reference int
	// Rho sets λ = Rho × the median of the reference Gram's diagonal.
	Rho float64
	// Method is the solver ("ugd", the paper's).
	Method string
	// BinningPerBin are the two n (smallest and largest) of the bin
	// sensitivity's studies, one per binning of ProbeSizes and training
	// weighting, each with BinningDraws draws and a reference batch of
	// BinningReference examples per bin, without signal fractions: the
	// primary test's comparison of the smallest and largest n, at a bounded
	// cost.
	BinningPerBin                  []int
	BinningDraws, BinningReference int

	noSignal bool // skip the signal fractions (the sensitivity studies)
}

var fig3Sizes = map[Scale]Fig3Sizes{
	Smoke: {Bins: "t:4", PerBin: []int{1, 2, 4}, Draws: 3, Reference: 8, Rho: 1, Method: "ugd",
		BinningPerBin: []int{1, 4}, BinningDraws: 3, BinningReference: 8},
	Quick: {Bins: "t:20", PerBin: []int{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048}, Draws: 6, Reference: 4096, Rho: 1, Method: "ugd",
		BinningPerBin: []int{1, 1024}, BinningDraws: 4, BinningReference: 1024},
	Medium: {Bins: "t:20", PerBin: []int{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}, Draws: 6, Reference: 1024, Rho: 1, Method: "ugd",
		BinningPerBin: []int{1, 256}, BinningDraws: 4, BinningReference: 256},
	Paper: {Bins: "t:20", PerBin: []int{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}, Draws: 8, Reference: 1024, Rho: 1, Method: "ugd",
		BinningPerBin: []int{1, 512}, BinningDraws: 4, BinningReference: 1024},
}

// binningSizes are the sizes of the sensitivity study on one binning.
func (s Fig3Sizes) binningSizes(bins string) Fig3Sizes {
	b := s
	b.Bins, b.PerBin, b.Draws, b.Reference, b.noSignal = bins, s.BinningPerBin, s.BinningDraws, s.BinningReference, true
	return b
}

// Fig3SizesFor returns fig3's sizes at a scale.
func Fig3SizesFor(s Scale) Fig3Sizes { return fig3Sizes[s] }

// fig3Seed offsets fig3's batches from every training stream.
const fig3Seed = 3000

// SampleSizeResult is what SampleSizeStudy measures.
type SampleSizeResult struct {
	// Bins are the tasks and Lambda the λ of every solve.
	Bins   weighting.Bins
	Lambda float64
	// PerBin are the n compared; Weights[i][d] are the weights of draw d
	// at n = PerBin[i].
	PerBin  []int
	Weights [][][]float64
	// Dispersion[i] and DispersionSE[i] are the mean pairwise L1 distance
	// between the draws' weights at PerBin[i] and its standard error
	// (Dispersion).
	Dispersion, DispersionSE []float64
	// Signal[i] are the bins' signal fractions at n = PerBin[i]
	// (SignalFractions, one split batch; nil in a sensitivity study).
	Signal [][]float64
	// RefDistance[i] is the mean L1 distance of the draws' weights at
	// PerBin[i] to Reference.
	RefDistance []float64
	// Reference are the weights of the reference batch.
	Reference []float64
}

// SampleSizeStudy is fig3's measurement on a network (the objective's): for
// every n in sizes.PerBin it draws sizes.Draws independent batches of n
// examples in each of the bins of sizes.Bins, forms each batch's
// exact K×K Gram in one pass (DrawGram), solves Eq. 11 with sizes.Method
// and λ = sizes.Rho × MedianDiag of a reference batch of sizes.Reference
// examples per bin (the same λ for every batch), and measures how far
// apart the draws' weights are (Dispersion) and how much of each bin's
// squared gradient norm is signal (SignalFractions). Batches come from
// rand.NewPCG(seed, stream): stream i·Draws + d for draw d at the i-th n,
// 1<<20 for the reference and 1<<20 + 1 + i for the signal fractions.
func SampleSizeStudy(obj *diffusion.Objective, data diffusion.Dataset, sizes Fig3Sizes, seed uint64) (*SampleSizeResult, error) {
	bins, err := weighting.ParseBins(sizes.Bins, obj.Schedule.LogSNRs())
	if err != nil {
		return nil, fmt.Errorf("reproduce: fig3 bins: %w", err)
	}
	method, err := solvers.ParseMethod(sizes.Method)
	if err != nil {
		return nil, fmt.Errorf("reproduce: %w", err)
	}
	if sizes.Draws < 3 {
		return nil, fmt.Errorf("reproduce: fig3 needs ≥ 3 draws for a standard error, got %d", sizes.Draws)
	}
	bg, err := gram.NewPass(obj, gram.Config{})
	if err != nil {
		return nil, fmt.Errorf("reproduce: %w", err)
	}
	rng := func(stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }
	res := &SampleSizeResult{Bins: bins, PerBin: append([]int(nil), sizes.PerBin...)}
	gref, _, err := DrawGram(bg, data, bins, sizes.Reference, rng(1<<20))
	if err != nil {
		return nil, err
	}
	res.Lambda = sizes.Rho * MedianDiag(gref)
	ref, err := ParetoWeights(gref, res.Lambda, method)
	if err != nil {
		return nil, err
	}
	res.Reference = ref.W
	for i, n := range sizes.PerBin {
		var ws [][]float64
		for d := 0; d < sizes.Draws; d++ {
			g, _, err := DrawGram(bg, data, bins, n, rng(uint64(i*sizes.Draws+d)))
			if err != nil {
				return nil, err
			}
			r, err := ParetoWeights(g, res.Lambda, method)
			if err != nil {
				return nil, err
			}
			ws = append(ws, r.W)
		}
		m, se := Dispersion(ws)
		var s []float64
		if !sizes.noSignal {
			if s, err = SignalFractions(bg, data, bins, n, rng(1<<20+1+uint64(i))); err != nil {
				return nil, err
			}
		}
		rd := 0.0
		for _, w := range ws {
			for k := range w {
				rd += math.Abs(w[k]-res.Reference[k]) / float64(len(ws))
			}
		}
		res.RefDistance = append(res.RefDistance, rd)
		res.Weights = append(res.Weights, ws)
		res.Dispersion = append(res.Dispersion, m)
		res.DispersionSE = append(res.DispersionSE, se)
		res.Signal = append(res.Signal, s)
	}
	return res, nil
}

// Verdict applies fig3's rule (Falls): agrees if the dispersion at the
// largest n is below that at the smallest beyond noise and no step up in n
// raises it beyond noise; partly agrees if it falls overall but some step
// raises it; inconclusive if the overall change is within noise; does not
// agree if it rises overall.
func (r *SampleSizeResult) Verdict() (Verdict, []int) {
	overall, rises := Falls(r.Dispersion, r.DispersionSE)
	switch {
	case overall == Supports && len(rises) == 0:
		return Agrees, rises
	case overall == Supports:
		return Partly, rises
	case overall == WithinNoise:
		return Inconclusive, rises
	}
	return Disagrees, rises
}

const fig3Rule = "with D_n the mean pairwise L1 distance between the draws' weight vectors at n examples per bin and SE_n its jackknife standard error over the draws: agrees if D falls from the smallest to the largest n by more than 2·√(SE² + SE²) and no doubling of n raises it by more than twice the standard error of that step; partly agrees if it falls overall but some step raises it beyond noise; inconclusive if the overall change is within noise; does not agree if it rises beyond noise"
