// Package learned is EDM2's learned per-timestep uncertainty weighting
// (Karras et al. 2024, "Analyzing and Improving the Training Dynamics of
// Diffusion Models", the loss weighting with learned uncertainty u(σ),
// after Kendall et al. 2018's homoscedastic uncertainty) as a training
// weighting of the toolkit, and its comparison with the closed forms and
// the Pareto weights of the same model.
//
// Tour:
//   - The loss: (1/B)·Σ_b L_b·e^{−u(t_b)} + u(t_b) (UncertaintyLoss),
//     with L_b the example's loss on the model's own target, as EDM2 (or,
//     with Config.Base, a closed form's weighted x0 loss). The weights are
//     stated on the x0 loss, as every weighting of the toolkit: the
//     effective weight there is SNR·e^{−u} for ε, (SNR + 1)·e^{−u} for v
//     and e^{−u} for x0 (Config.X0Weight). The fixed point is e^{u(t)} =
//     E[L | t]: each timestep's weighted loss is 1.
//   - Config is the "learned" family of the weighting registry
//     (weighting.Parse("learned:bins=8"), "learned:mlp=128"), a
//     diffusion.OnlineWeighting; the trainer starts it as a *Learned, a
//     diffusion.ParamPass that trains u with its own Adam inside each
//     step's pass.
//   - Model is u: BinModel (one value per timestep bin,
//     weighting.BinsSpec) or FourierModel (EDM2's Fourier features of the
//     noise level and a linear layer).
//   - Compare turns a learned run's u over training (the records'
//     diffusion.Metrics.PassParams), and optionally its gradient-conflict
//     probes (conflict.Record), into a Comparison: the learned effective
//     weights per bin over training, normalised as conflict.BinWeights
//     normalises the closed forms, next to the closed forms and the
//     Pareto weights at the same steps, with their distances. Its
//     WriteFiles renders learned.csv, the figure and learned.md.
//
// Invariants:
//   - u starts at 0 (the model's plain unweighted loss) and depends only on
//     the run's seed and batches: the Fourier features are drawn once from
//     StreamFourier, apart from every training stream.
//   - A checkpoint holds u and its Adam moments exactly (PassState), so a
//     resumed run is bit-identical to an uninterrupted one.
//   - Every Config's String is its canonical spec, which Parse reads back.
//   - Normalised weights of a Comparison are ≥ 0 and sum to 1 over its bins.
package learned
