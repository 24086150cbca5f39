// Package run is where a training run is defined, started, resumed and
// observed: the one layer under paretodiff train, conflict (while
// training), demo and the reproductions' models.
//
// Tour:
//   - Spec fully describes a run: the network (nn.Spec), the trajectory
//     (diffusion.TrainSpec: data, schedule, target, weighting — closed
//     forms, online "pareto:…" and "learned:…" alike, through
//     weighting.Parse —
//     density, batch, seed, optimiser), the steps, what is recorded
//     (EvalSpec: metrics every N steps, sample quality) and the
//     gradient-conflict probes (conflict.ProbeSpec). Normalize fills the
//     defaults in (a network's example length or, for a DiT, its image
//     shape from the data: data.ImageShapeOf); Diff names the fields in
//     which two specs differ; Hash names a run by its spec. ModelNet is
//     the network of a --model name (Models: resmlp, dit, dit-s).
//   - Train is the one function that starts, resumes or reuses a run
//     (Options.Existing: Refuse, Resume, Reuse, Replace) and trains it: the
//     loop of steps, metrics records (Record), probes, checkpoints on an
//     interval, at the end and when the context is cancelled
//     (NotifyContext turns SIGINT and SIGTERM into that), ProgressFile and
//     the completion marker DoneFile. Typed callbacks (Options.OnRecord,
//     OnProbe, OnProgress) observe it in the process; JSON is only what
//     goes to disk.
//   - Open reads a run folder of this layout (see SpecFile) or of an
//     earlier release's (legacy.go) or a bare checkpoint: its Spec,
//     checkpoint, records and probe logs (Run).
//   - QualitySpec and QualityMeasure measure sample quality (sliced Wasserstein
//     distance on toy data, Fréchet distance in an MNIST classifier's
//     features).
//
// Invariants:
//   - One folder layout for every producer; every file in it is replaced
//     atomically, so a reader never sees a half-written file, and the
//     temporary files a killed write left are removed when a run starts.
//   - A run's numbers follow from its Spec alone: Options change how it is
//     carried out (device, checkpoint interval, callbacks), never what it
//     computes; probes and quality measurements never touch the training
//     random stream or the parameters.
//   - A resumed run (Existing Resume or Reuse) ends bit-identical, on the
//     CPU backend, to an uninterrupted one, with the same records; records
//     written after the last checkpoint by a killed session are dropped
//     and written again.
//   - A run folder is complete exactly when DoneFile exists and names the
//     spec's last step; Cached runs are only ever complete ones of an equal
//     spec.
//   - Every error caused by what the caller gave (a spec field, a folder's
//     contents, data files) wraps ErrInput.
package run
