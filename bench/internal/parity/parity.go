// Package parity writes the check file with which the PyTorch benchmark
// scripts (bench/torch_resmlp.py --check and torch_resmlp_cuda.py) confirm
// that they run the same network as the Go engine before timing it.
package parity

import (
	"math/rand/v2"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/weighting"
)

// WriteCheck writes, as JSON, a small ResMLP's configuration, flat
// parameters and their layout, a batch (x, t) and the network's ε output
// computed on be, and the backend's name. The LayerNorm gains and shifts
// are perturbed from their initial 1 and 0 so that they are checked too.
func WriteCheck(be nn.Backend, path string, act nn.Activation) error {
	cfg := nn.ResMLPConfig{Dim: 5, Width: 16, Depth: 2, Act: act}
	net, err := nn.InitResMLP(be, cfg, 7)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(8, 8))
	flat := make([]float32, net.Params().Len())
	be.Download(flat, net.Params().Flat)
	for _, p := range net.Params().Params() {
		if strings.Contains(p.Name, "norm") {
			for i := p.Offset; i < p.Offset+p.Size; i++ {
				flat[i] += float32(0.3 * rng.NormFloat64())
			}
		}
	}
	be.Upload(net.Params().Flat, flat)
	const rows = 7
	x, t := make([]float32, rows*cfg.Dim), make([]int, rows)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range t {
		t[i] = rng.IntN(1000)
	}
	out := make([]float32, rows*cfg.Dim)
	diffusion.NewNetDenoiser(net, weighting.Eps, nil).Predict(out, x, t)
	if err := be.Sync(); err != nil {
		return err
	}
	c := net.Config()
	return atomicfile.WriteJSON(path, map[string]any{
		"config": map[string]any{"dim": c.Dim, "width": c.Width, "depth": c.Depth, "hidden": c.Hidden,
			"time_dim": c.TimeDim, "act": c.Act.String(), "max_period": c.MaxPeriod},
		"layout": net.Params().Layout(), "params": flat, "x": x, "t": t, "out": out, "device": be.Name(),
	})
}
