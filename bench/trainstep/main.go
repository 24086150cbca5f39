// Command trainstep times paretodiff's ResMLP training step on the CPU
// backend, the Go side of bench/compare.sh (bench/torch_resmlp.py is the
// PyTorch side). It prints one JSON object.
//
//	go run ./bench/trainstep --data toy --width 128 --depth 3 --batch 256 --steps 200
//	go run ./bench/trainstep --data mnist --width 256 --depth 3 --batch 128 --steps 50
//	go run ./bench/trainstep --check-out check.json   # a small model and one forward pass, for torch_resmlp.py --check
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/paretodiff/paretodiff/bench/internal/parity"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

func main() {
	dataName := flag.String("data", "toy", "toy (8 Gaussians, D=2) or mnist (D=784)")
	width := flag.Int("width", 256, "ResMLP width")
	depth := flag.Int("depth", 3, "ResMLP blocks")
	batch := flag.Int("batch", 128, "batch size")
	steps := flag.Int("steps", 100, "timed steps")
	warmup := flag.Int("warmup-steps", 10, "untimed steps first")
	checkOut := flag.String("check-out", "", "write a small model, a batch and its output as JSON and exit")
	checkAct := flag.String("check-act", "gelu", "activation of the --check-out model: silu or gelu")
	flag.Parse()
	if err := run(*dataName, *width, *depth, *batch, *steps, *warmup, *checkOut, *checkAct); err != nil {
		fmt.Fprintln(os.Stderr, "trainstep:", err)
		os.Exit(1)
	}
}

func run(dataName string, width, depth, batch, steps, warmup int, checkOut, checkAct string) error {
	if checkOut != "" {
		act, err := nn.ParseActivation(checkAct)
		if err != nil {
			return err
		}
		return parity.WriteCheck(nn.NewCPU(), checkOut, act)
	}
	var ds diffusion.Dataset
	switch dataName {
	case "toy":
		ds, _ = data.NewToy("8gaussians")
	case "mnist":
		m, err := data.LoadMNIST("", "train")
		if err != nil {
			return err
		}
		ds = m
	default:
		return fmt.Errorf("unknown --data %q", dataName)
	}
	be := nn.NewCPU()
	net, err := nn.InitResMLP(be, nn.ResMLPConfig{Dim: ds.Dim(), Width: width, Depth: depth}, 1)
	if err != nil {
		return err
	}
	// The same step as torch_resmlp.py: min-SNR-5 weighted ε-MSE, AdamW
	// lr 1e-3, clipping at 1, EMA.
	tr, err := diffusion.NewTrainer(net, ds, ds, diffusion.TrainConfig{
		Schedule: diffusion.Cosine(1000), Target: weighting.Eps, Weighting: weighting.MustParse("min-snr:5"),
		Steps: warmup + steps, Batch: batch, Seed: 1, EvalSize: 1,
		Optim: nn.OptimConfig{LR: 1e-3, ClipNorm: 1},
	})
	if err != nil {
		return err
	}
	for i := 0; i < warmup; i++ {
		if err := tr.StepOnce(); err != nil {
			return err
		}
	}
	start := time.Now()
	for i := 0; i < steps; i++ {
		if err := tr.StepOnce(); err != nil {
			return err
		}
	}
	el := time.Since(start).Seconds()
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"impl": "paretodiff-go-cpu", "gomaxprocs": runtime.GOMAXPROCS(0),
		"dim": ds.Dim(), "width": width, "depth": depth, "batch": batch, "params": net.Params().Len(),
		"steps": steps, "seconds": el, "steps_per_s": float64(steps) / el,
	})
}
