package learned_test

import (
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/learned"
	"github.com/paretodiff/paretodiff/weighting"
)

// Train a small v-prediction model on 8 Gaussians with u learned per bin
// of 4, record u every 100 steps, and compare its effective weights with
// the closed forms. (paretodiff train --weighting learned:bins=4 does this
// with a run folder, and writes learned.csv, learned.png and learned.md.)
func Example() {
	w, err := weighting.Parse("learned:bins=4")
	if err != nil {
		panic(err)
	}
	fmt.Println(w)
	toy, _ := data.NewToy("8gaussians")
	net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 32, Depth: 2}, 1)
	if err != nil {
		panic(err)
	}
	cfg := diffusion.TrainConfig{Schedule: diffusion.Cosine(1000), Target: weighting.V, Weighting: w,
		Steps: 300, Batch: 64, Seed: 1, Optim: nn.OptimConfig{LR: 2e-3, Warmup: 50, ClipNorm: 1}}
	tr, err := diffusion.NewTrainer(net, toy, toy, cfg)
	if err != nil {
		panic(err)
	}
	h := learned.History{Config: w.(learned.Config), Schedule: cfg.Schedule, Seed: cfg.Seed}
	for tr.Step() < cfg.Steps {
		if err := tr.StepOnce(); err != nil {
			panic(err)
		}
		if tr.Step()%100 == 0 {
			m := tr.Record() // its PassParams are u's parameters
			h.Steps, h.Params = append(h.Steps, m.Step), append(h.Params, m.PassParams)
		}
	}
	c, err := learned.Compare(h, nil, nil)
	if err != nil {
		panic(err)
	}
	last := c.Learned[len(c.Steps)-1]
	fmt.Println("steps:", c.Steps)
	fmt.Println("the low timesteps, whose x0 loss is smallest, weigh most:", last[0] > last[1] && last[1] > last[3])
	// Output:
	// learned:bins=t:4,lr=0.01
	// steps: [100 200 300]
	// the low timesteps, whose x0 loss is smallest, weigh most: true
}
