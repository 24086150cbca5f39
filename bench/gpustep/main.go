// Command gpustep times paretodiff's ResMLP training step and its K = 32
// per-bin Gram probe on a chosen backend (the GPU by default): the Go side
// of the GPU check's benchmark (scripts/gpu-check.sh builds it into its
// run.sh), whose PyTorch side is bench/torch_resmlp_cuda.py (and
// bench/torch_dit.py for --model dit). It prints one JSON object per size.
//
//	go run ./bench/gpustep --sizes toy,mnist,wide --steps 200
//	go run ./bench/gpustep --sizes mnist --batch 256       # every size at batch 256
//	go run ./bench/gpustep --model dit --sizes dit,dit-s   # the DiT presets (see benchDiT)
//	go run ./bench/gpustep --check-out check.json --check-act gelu   # for torch_resmlp.py --check
//
// Sizes (the Python script has the same table): toy is D = 2, width 256,
// depth 3, batch 256; mnist is D = 784, width 256, depth 3, batch 128; wide
// is D = 784, width 1024, depth 4, batch 512. The training step is
// diffusion.Trainer.StepOnce, exactly as `paretodiff train` runs it: the
// batch drawn on the host (data, timesteps, noise from one PCG stream),
// uploaded once, min-SNR-5 weighted ε-MSE, backward, clipping at norm 1,
// AdamW lr 1e-3, EMA, with the loss read back every step. The Gram probe
// is one stratified batch of K bins × per-bin examples, the brute-force
// per-bin gradients (diffusion.Objective.BinGradients: one forward and
// backward pass per bin, each gradient row copied on the device) and the
// K×K float64 Gram matrix (Backend.Gram), timed from the draw to the Gram
// on the host.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/bench/internal/parity"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	gramref "github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/cuda/nncuda"
	runspec "github.com/paretodiff/paretodiff/run"
	"github.com/paretodiff/paretodiff/weighting"
)

// size is one benchmark configuration.
type size struct {
	name                     string
	dim, width, depth, batch int
}

var sizes = []size{
	{"toy", 2, 256, 3, 256},
	{"mnist", 784, 256, 3, 128},
	{"wide", 784, 1024, 4, 512},
}

// options are the command's flags.
type options struct {
	device, model, sizes         string
	steps, warmup, batch         int
	bins, perBin, probes         int
	mnistDir, checkOut, checkAct string
}

func main() {
	var o options
	flag.StringVar(&o.device, "device", "cuda", "backend: cpu, cuda or auto")
	flag.StringVar(&o.model, "model", "resmlp", "network: resmlp (--sizes toy, mnist, wide) or dit (--sizes dit, dit-s: the DiT presets)")
	flag.StringVar(&o.sizes, "sizes", "", "comma-separated sizes (default toy,mnist,wide; dit for --model dit)")
	flag.IntVar(&o.steps, "steps", 200, "timed training steps per size")
	flag.IntVar(&o.warmup, "warmup-steps", 20, "untimed steps first")
	flag.IntVar(&o.batch, "batch", 0, "the batch of every size (0: each size's own)")
	flag.IntVar(&o.bins, "gram-bins", 32, "K, the timestep bins of the Gram probe")
	flag.IntVar(&o.perBin, "gram-per-bin", 8, "examples per bin in the Gram probe")
	flag.IntVar(&o.probes, "gram-probes", 3, "timed Gram probes (after one untimed); the fastest is reported")
	flag.StringVar(&o.mnistDir, "mnist-dir", "", "MNIST IDX folder for the 784-dimensional sizes (default: find it; uniform noise data if none)")
	flag.StringVar(&o.checkOut, "check-out", "", "write a small model, a batch and its output computed on --device as JSON (for torch_resmlp.py --check) and exit")
	flag.StringVar(&o.checkAct, "check-act", "gelu", "activation of the --check-out model: silu or gelu")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "gpustep:", err)
		os.Exit(1)
	}
}

func backend(device string) (nn.Backend, string, error) {
	switch device {
	case "cpu":
		return nn.NewCPU(), "cpu", nil
	case "cuda", "auto":
		be, err := nncuda.New()
		if err == nil {
			return be, be.String(), nil
		}
		if device == "cuda" {
			return nil, "", err
		}
		return nn.NewCPU(), "cpu", nil
	}
	return nil, "", fmt.Errorf("unknown --device %q", device)
}

func run(o options) error {
	if o.model != "resmlp" && o.model != "dit" {
		return fmt.Errorf("unknown --model %q (want resmlp or dit)", o.model)
	}
	if o.batch < 0 {
		return fmt.Errorf("--batch %d: want ≥ 0", o.batch)
	}
	be, desc, err := backend(o.device)
	if err != nil {
		return err
	}
	if o.checkOut != "" {
		act, err := nn.ParseActivation(o.checkAct)
		if err != nil {
			return err
		}
		return parity.WriteCheck(be, o.checkOut, act)
	}
	if o.model == "dit" {
		return benchDiT(be, desc, o)
	}
	names := o.sizes
	if names == "" {
		names = "toy,mnist,wide"
	}
	for _, name := range strings.Split(names, ",") {
		i := slices.IndexFunc(sizes, func(s size) bool { return s.name == name })
		if i < 0 {
			return fmt.Errorf("unknown size %q (want toy, mnist or wide)", name)
		}
		s := sizes[i]
		if o.batch > 0 {
			s.batch = o.batch
		}
		res, err := benchSize(be, s, o)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		res["impl"], res["device"], res["model"] = "paretodiff-go-"+be.Name(), desc, "resmlp"
		if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
			return err
		}
	}
	return nil
}

// benchDiT times each DiT preset of o.sizes (default "dit") on MNIST
// (one channel of side 28) at o.batch (default 256) exactly as benchSize
// times the ResMLP (the same Trainer, step and Gram probe), and prints one
// JSON object per preset with benchSize's keys plus "model": "dit", "size":
// the preset's name and its "patch", "width", "depth", "heads" and
// "mlp_ratio", which bench/torch_dit.py --like reads to time the same
// configurations in PyTorch. The DiT has no input skips here, as the
// PyTorch side.
func benchDiT(be nn.Backend, desc string, o options) error {
	names := o.sizes
	if names == "" {
		names = "dit"
	}
	for _, name := range strings.Split(names, ",") {
		spec, err := runspec.ModelNet(name) // the CLI's --model names
		if err != nil || spec.Kind != "dit" {
			return fmt.Errorf("unknown DiT size %q (want dit or dit-s)", name)
		}
		cfg := *spec.DiT
		cfg.Channels, cfg.Side = 1, 28
		cfg = cfg.WithDefaults()
		spec.DiT = &cfg
		net, err := nn.BuildSeeded(be, spec, 1)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		s := size{name: name, dim: cfg.Dim(), width: cfg.Width, depth: cfg.Depth, batch: 256}
		if o.batch > 0 {
			s.batch = o.batch
		}
		res, err := benchNet(be, net, s, o)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		res["impl"], res["device"], res["model"] = "paretodiff-go-"+be.Name(), desc, "dit"
		res["patch"], res["heads"], res["mlp_ratio"] = cfg.Patch, cfg.Heads, cfg.MLPRatio
		if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
			return err
		}
	}
	return nil
}

// uniform is a dataset of D values uniform in [−1, 1) (the PyTorch script's
// stand-in for MNIST when no MNIST files are at hand).
type uniform struct{ d int }

func (u uniform) Dim() int { return u.d }
func (u uniform) Sample(rng *rand.Rand, x []float32) {
	for i := range x {
		x[i] = float32(2*rng.Float64() - 1)
	}
}

func dataset(s size, mnistDir string) (diffusion.Dataset, string) {
	if s.dim == 2 {
		toy, _ := data.NewToy("8gaussians")
		return toy, "toy:8gaussians"
	}
	if m, err := data.LoadMNIST(mnistDir, "train"); err == nil {
		return m, "mnist"
	}
	return uniform{s.dim}, "uniform"
}

func benchSize(be nn.Backend, s size, o options) (map[string]any, error) {
	net, err := nn.InitResMLP(be, nn.ResMLPConfig{Dim: s.dim, Width: s.width, Depth: s.depth}, 1)
	if err != nil {
		return nil, err
	}
	return benchNet(be, net, s, o)
}

// benchNet times net's training step and Gram probe on the data of s.
func benchNet(be nn.Backend, net nn.Network, s size, o options) (map[string]any, error) {
	steps, warmup, bins, perBin, probes := o.steps, o.warmup, o.bins, o.perBin, o.probes
	ds, dataName := dataset(s, o.mnistDir)
	sched := diffusion.Cosine(1000)
	tr, err := diffusion.NewTrainer(net, ds, ds, diffusion.TrainConfig{
		Schedule: sched, Target: weighting.Eps, Weighting: weighting.MustParse("min-snr:5"),
		Steps: warmup + steps, Batch: s.batch, Seed: 1, EvalSize: 1,
		Optim: nn.OptimConfig{LR: 1e-3, ClipNorm: 1},
	})
	if err != nil {
		return nil, err
	}
	for range warmup {
		if err := tr.StepOnce(); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	for range steps {
		if err := tr.StepOnce(); err != nil {
			return nil, err
		}
	}
	el := time.Since(start).Seconds()

	res := map[string]any{
		"size": s.name, "data": dataName, "dim": s.dim, "width": s.width, "depth": s.depth, "batch": s.batch,
		"params": net.Params().Len(), "steps": steps, "seconds": el, "steps_per_s": float64(steps) / el,
		"gram_bins": bins, "gram_per_bin": perBin, "gram_probe_s": nil, "gram_finite": nil,
	}
	if probes > 0 {
		best, ok, err := probeGram(be, tr.Objective(), ds, net.Params().Len(), bins, perBin, probes)
		if err != nil {
			return nil, err
		}
		res["gram_probe_s"], res["gram_finite"] = best, ok
	}
	return res, nil
}

// probeGram times the Gram probe of obj (P parameters) probes times after
// one untimed run and returns the fastest time and whether every Gram
// matrix was finite.
func probeGram(be nn.Backend, obj *diffusion.Objective, ds diffusion.Dataset, P, bins, perBin, probes int) (float64, bool, error) {
	binsT := weighting.MustEqualT(1000, bins)
	rng := rand.New(rand.NewPCG(1, 7))
	rows := be.Alloc(bins * P)
	defer be.Free(rows)
	gram := make([]float64, bins*bins)
	best, ok := 0.0, true
	for i := range probes + 1 {
		t0 := time.Now()
		batch := diffusion.DrawBins(rng, ds, binsT, perBin)
		gramref.BinGradients(obj, rows, batch, bins, nil)
		be.Gram(gram, rows, bins, P)
		d := time.Since(t0).Seconds()
		if i > 0 && (best == 0 || d < best) {
			best = d
		}
		ok = ok && finite(gram)
	}
	return best, ok, be.Sync()
}

func finite(x []float64) bool {
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}
