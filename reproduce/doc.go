// Package reproduce reruns the analyses of "Efficient Diffusion Training
// via Min-SNR Weighting Strategy" (Hang et al., ICCV 2023) and writes, for
// each figure or table, the figure (PNG), the numbers behind it (CSV) and a
// markdown report that puts our measurement next to the paper's claim and
// says whether they agree. `paretodiff reproduce NAME` is its command line;
// the same steps are public functions, so a notebook can tell the story
// with them.
//
// Tour:
//   - A Target (Targets, Lookup, Resolve: one ordered list) is a named reproduction:
//     "weights", "fig2", "fig3", "fig4", "fig5", "fig6", "table2",
//     "conflict", and "online" (beyond the paper: the Pareto weighting
//     solved on every training step, OnlineStrategies, against min-SNR-5
//     at equal steps and equal wall-clock time). RunTarget runs one with
//     an Env (scale, backend, output folder, seed, progress log) and writes
//     its Report as report.md; Run runs several and writes index.md.
//   - Scale picks the sizes: Smoke (tests), Quick (toy 2-D data on two CPU
//     cores, minutes), Medium (MNIST on two CPU cores in under 90 minutes,
//     5 seeds for PrimaryTarget) and Paper (MNIST, larger, meant for a
//     GPU). The sizes are tables in code (ModelSizesFor, each target's own)
//     and every report prints the ones it used. Env.Model picks the
//     network (ModelSizesOf): the ResMLP of the tables, or a DiT of the
//     train command's preset ("dit", "dit-s") with the scale's other sizes
//     on its images (Medium, Paper; Smoke a tiny DiT on MNIST; Quick's toy
//     points have none); a DiT's plan is the ResMLP's run for run, under
//     other keys.
//   - Statistics: a report declares one primary test in its code before
//     anything is measured (Report.Primary, printed before the sizes and
//     the numbers); the finding with RolePrimary reports its outcome and
//     gives the report's verdict, the others are RoleSecondary. Margins
//     are standard errors over training seeds, paired where configurations
//     share seeds (ModelGrid.FinalBySeed, pairedSE); ratios such as
//     speed-ups get percentile bootstrap intervals over the seeds
//     (Bootstrap, Interval).
//   - TrainModel trains one model of a run.Spec and records, every
//     EvalEvery steps, the trainer's metrics (Fig. 6's x0-MSE by timestep
//     range) and the sample quality of the EMA weights (Quality: sliced
//     Wasserstein distance to real data for toy data). TrainGrid trains a
//     target × strategy × seed grid.
//   - Probed models: ModelSizes.Model gives the models of the scale's probe
//     target (ProbeSizes.Target: PrimaryTarget, x0) trained
//     with one of ProbedStrategies (the four closed forms and the online
//     Pareto weightings, OnlineStrategies) gradient probes (run.Spec.Probes:
//     exact per-bin Gram matrices of several fixed probe batches at step 0
//     and every few steps, and at step 0 and the end on the sensitivity
//     binnings). Probes change no number of the model, so fig5's models of
//     that target are the probed runs; TrainProbedGrid trains them for a
//     list of strategies (fig3, fig4 and conflict: ProbedStrategies; the
//     online target: OnlineStrategies and its comparators), TrainedModel.Probes and
//     TrainProbed read the probes back (ProbeRun).
//   - The cross-trained design of fig3, fig4 and conflict: every weighting B
//     is evaluated on the models trained with every weighting A, and the
//     claim that min-SNR-5 approximates the Pareto weighting is tested off
//     the diagonal (OffDiagonal, CompareMinSNR: min-SNR-5 against the best
//     other closed form that is not A, paired by draw and seed; UnitMean:
//     standard errors over the seeds when there are at least 3, else over
//     the draws). Each of the three declares one primary test in its code
//     (Report.Primary, printed before the numbers; the finding with
//     RolePrimary gives the overall verdict) and checks it on the other
//     binnings (ProbeSizes.Binnings).
//   - Analysis steps: FineTune (train a copy on one timestep range),
//     LossProbe and LossChanges (paired per-timestep loss before and
//     after), EffectOf (Fig. 2's reading of them), SpeedUpOver and
//     SpeedUpAt (steps to reach a baseline's quality), QualityAt, Regrets (distance to the best
//     strategy per timestep range), TailMeanSE; figures WeightsFigure,
//     LossChangePanel, QualityFigure, SamplesFigure, X0MSEFigure,
//     GammaFigure. For the Pareto view: DrawGram (one batch's exact bin
//     Gram), ParetoWeights (Eq. 11), MedianDiag (the scale of λ),
//     Dispersion (spread of weights between draws), SignalFractions (how
//     much of a bin's gradient is signal), SampleSizeStudy (fig3),
//     WeightingObjectives (fig4: Eq. 11 of closed forms and solvers),
//     Fig4Bands (fig4's λ bands) and SummarizeConflict, CosineDistanceSlope
//     (conflict). The notebooks
//     (notebooks/) tell each target's story with them.
//   - The model cache and sweeps: every run a target trains is a CacheRun
//     (ModelRun, FineTuneRun: its kind, label and spec; Key is
//     its folder). Each target declares its runs (Target.Plan) and its
//     Compute takes its specs from there. Plan lists the runs of several
//     targets, each once, in an order in which each can be trained
//     (PlannedRun, the JSON lines of `paretodiff reproduce plan`;
//     WritePlan, ReadPlannedRun, Find), and TrainPlanned trains one of
//     them with what it needs (`reproduce train-one`), so that the runs
//     of a scale can be trained as a sweep on many machines; the targets
//     then find them in the cache and only analyse (Env.CachedOnly makes
//     a missing run an error instead of training it).
//   - `paretodiff demo`, the end-to-end tour, is package demo: it runs in
//     an Env and uses ModelSizes, PaperStrategies, WeightsFigure,
//     Fig6Labels, SizesTable and Table from here (this package does not
//     import it).
//
// Invariants:
//   - Everything a target computes follows from Env.Seed: model seeds are
//     Seed, Seed+1, …; every model of a run is evaluated with the same
//     reference data, projection directions and sampler noise (drawn from
//     Seed), so differences between models are not differences of noise.
//     The same seed, scale and backend give byte-identical CSV files
//     (reports also hold wall times, which vary).
//   - Models are cached in Out/models/<label>_<hash>/ (Env.Models moves
//     the cache), the hash taken over the full run.Spec; a cached run is
//     used only when it is complete (done.json, written last) and holds
//     the same spec. So fig5, fig6 and table2 (and fig2's base model)
//     share models within and across runs, and no model is trained twice
//     for the same spec; the probe target's models carry the gradient
//     probes, so fig3, fig4, conflict and online share them too. A
//     fine-tune is cached in
//     Out/models/<base label>_ft<lo>-<hi>_<hash>/, starting from its base's
//     folder, which must be complete.
//   - Every run of the cache is trained under an exclusive lock on
//     Out/models/<key>.lock (package internal/filelock), held from the
//     check of the cache to the end of training: processes sharing the
//     cache never train one folder at once; a second one waits, then finds
//     the run complete. Lock files stay (removing one would break the
//     exclusion).
//   - A target's Plan covers its Compute: once the runs of its plan are
//     trained, Compute trains nothing and uses exactly those runs
//     (TestPlanCoversCompute checks every target).
//   - Probes never change a model's parameters, EMA, sample quality or
//     training random stream: a probed model is bit-identical to the same
//     spec without probes (tested), so adding probes to the grid's models
//     costs only the probes' time.
//   - Every file is written atomically (internal/atomicfile): a cancelled
//     run leaves complete files or none. A model interrupted while training
//     keeps its last checkpoint and progress.json and resumes from them;
//     on the CPU the resumed model is bit-identical to an uninterrupted one.
//   - A verdict is computed from the measured numbers by the rule printed
//     beside it, never written by hand; noise (sampling spread, standard
//     errors, evaluation interval) is part of each rule, and what a scale
//     cannot show is said in the report. A report that declares a primary
//     test takes its overall verdict from that test alone; the other
//     findings are labelled secondary.
package reproduce
