// Package diffusion holds the diffusion process: noise schedules (variance
// preserving, and the rectified flow of flow matching), forward noising,
// prediction targets and their conversions, the
// training loss for any weighting, the training step and checkpoints. The
// explicit-layer networks it trains live in diffusion/nn, the training data
// in diffusion/data, the per-timestep-bin Gram in diffusion/gram; the loop
// that drives a Trainer (records, probes, checkpoints, resume) is package
// run.
//
// The process is x_t = α_t x0 + σ_t ε with SNR(t) = α_t²/σ_t², on discrete
// timesteps t = 0..T−1. A variance-preserving schedule has α_t² = ᾱ_t,
// σ_t² = 1 − ᾱ_t and SNR(t) = ᾱ_t/(1 − ᾱ_t); the flow schedule
// (FlowSchedule, "flow[:shift=S]") has α = 1 − t, σ = t and
// SNR = ((1 − t)/t)² on the flow times t_i = (i + 1)/T, shifted.
//
// Invariants of a Schedule:
//   - SNR and log-SNR are strictly decreasing in t, and σ_t > 0;
//   - VP: ᾱ_t is in [0, 1) and α_t² + σ_t² = 1 for every t; its α, σ, SNR
//     are computed from ᾱ as they were before flow schedules existed, so
//     VP results are bit-identical to earlier releases;
//   - flow: α_t + σ_t = 1, σ_{T−1} = 1 and α_{T−1} = 0 exactly (SNR 0,
//     log-SNR −∞); AlphaBar is α_t²; β_t, DDPM, DDIM and v-prediction are
//     refused there (Beta panics, the samplers and CheckTarget return
//     errors);
//   - all values are float64 and computed once, when the schedule is built;
//   - a zero-terminal schedule has ᾱ_{T−1} = 0 exactly (SNR 0, log-SNR −∞)
//     and the same ᾱ_0 as the schedule it rescales.
//
// Training (Objective, Trainer; TrainSpec is a TrainConfig as files hold
// it):
//   - The loss of a batch is L = Σ_b c_b·(1/D)‖target_b − pred_b‖² with
//     c_b = w(t_b)/B and w = weighting.Weight(strategy, target, SNR(t_b)),
//     the strategy stated on the x0 loss and converted to the target by the
//     loss identities below. The unweighted x0-MSE is the same sum with
//     w = weighting.Weight(weighting.Constant{}, target, SNR). An
//     OnlineWeighting (a weighting computed from each step's own batch)
//     makes the step's pass itself and leaves the gradient of its own
//     coefficients; a StatePass (package conflict's online weighting)
//     carries state from step to step, which checkpoints hold
//     (Checkpoint.PassState), and a ParamPass (package learned's u) is one
//     that trains parameters of its own, which metrics records
//     (Metrics.PassParams) hold too.
//   - Every random draw of a run comes from math/rand/v2 PCG generators
//     seeded by TrainConfig.Seed (streams StreamInit, StreamTrain,
//     StreamEval), on the host, in a fixed order (Batch.Draw), so CPU and
//     GPU runs see the same batches.
//   - A checkpoint holds everything a run depends on (parameters, AdamW
//     moments, EMA, generator state, step, the run configuration with its
//     data spec and the weighting trained, metrics window, a StatePass's
//     state) and is written atomically; on the CPU backend a trainer
//     resumed from it (ResumeTrainer) ends bit-identical to an
//     uninterrupted one. Files of every earlier format load
//     (LoadCheckpoint migrates their headers), and no file makes
//     LoadCheckpoint panic.
//   - A non-finite loss or gradient is an error of StepOnce naming the
//     step, before any update of the network (a ParamPass steps its own
//     parameters inside its pass).
//   - Host-to-backend coefficients (α_t, σ_t, loss weights, skip gains) are
//     rounded to float32 once, as the kernels use them.
//   - A network with input skips (nn.PrecondNetwork) is always run with the
//     per-row gains of SkipGains for its target and schedule — by the
//     Objective in training and by NetDenoiser in sampling — so its output
//     is the prediction of the target, like any other network's.
//
// The loss identities. A prediction of any target at x_t determines a
// prediction x̂0 of x0 (ToX0) and conversely: ε̂ = (x_t − α_t x̂0)/σ_t and,
// for the target v = α_t ε − σ_t x0, v̂ = α_t ε̂ − σ_t x̂0. Subtracting them
// from the true ε = (x_t − α_t x0)/σ_t and v,
//
//	ε − ε̂ = (α_t/σ_t)·(x̂0 − x0),   v − v̂ = ((α_t² + σ_t²)/σ_t)·(x̂0 − x0) = (x̂0 − x0)/σ_t,
//
// so, with α_t²/σ_t² = SNR(t) and 1/σ_t² = SNR(t) + 1,
//
//	‖ε − ε̂‖² = SNR·‖x0 − x̂0‖²,   ‖v − v̂‖² = (SNR + 1)·‖x0 − x̂0‖²,
//
// and a weight w_x0 on the x0 loss is w_x0/SNR on the ε loss and
// w_x0/(SNR + 1) on the v loss (weighting.Weight; tested in targets_test.go).
// At SNR = 0 (a zero-terminal schedule's last step) ε-prediction is
// ill-posed and the v identity reads ‖v − v̂‖² = ‖x0 − x̂0‖². The v
// identity uses α_t² + σ_t² = 1; the ε one holds on every schedule.
//
// Flow matching. For the velocity u = ε − x0, x_t = α x0 + σ ε gives
// x_t = (α + σ)x0 + σ u, so x̂0 = (x_t − σ û)/(α + σ), which is x_t − t·û on
// the flow schedule, and
//
//	u − û = (ε − ε̂) − (x0 − x̂0) = (1 + α/σ)·(x̂0 − x0),   ‖u − û‖² = (1 + √SNR)²·‖x0 − x̂0‖²,
//
// which on the flow schedule (√SNR = (1 − t)/t) is ‖x0 − x̂0‖²/t²: a weight
// w_x0 on the x0 loss is w_x0·t² on the velocity loss (flow_test.go).
package diffusion
