package conflict_test

import (
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/internal/stepbench"
	"github.com/paretodiff/paretodiff/weighting"
)

// BenchmarkOnlineMTLStepVsPlain measures, for each aggregator as an online
// weighting that solves every step (mtl:NAME, 8 bins), a training step
// against a plain min-SNR-5 step of the same model size and batch
// (alternating in one run, as BenchmarkOnlineStepVsPlain: toy data, width
// 256, depth 3, batch 128), and reports the ratio online/plain.
func BenchmarkOnlineMTLStepVsPlain(b *testing.B) {
	for _, name := range []string{"upgrad", "cagrad", "nash-mtl", "pcgrad", "imtl-g"} {
		b.Run(name, func(b *testing.B) {
			oc, err := conflict.ParseOnline("mtl:" + name + ",bins=8")
			if err != nil {
				b.Fatal(err)
			}
			stepbench.VsPlain(b, "online", oc, weighting.Stratified{Steps: 1000, K: 8})
		})
	}
}
