// Package demo is `paretodiff demo`, the toolkit's end-to-end tour: it
// trains a small diffusion model while probing how the gradients of its
// timesteps conflict, solves the Pareto weighting of the timesteps from the
// last probe (Hang et al., ICCV 2023, §3.3), compares it with Min-SNR-5 and
// the other closed forms, samples the model, and writes figures, CSVs and a
// report generated from the measurements.
//
// Tour:
//   - Sizes are the demo's settings: the model (reproduce.ModelSizes), its
//     training loss, and the probe (bins, examples per bin, interval,
//     relative λ). SizesFor returns those of a scale: reproduce.Quick, the
//     default of `paretodiff demo`, or reproduce.Smoke for tests.
//   - Run computes: it trains the model through run.Train into OUT/model
//     (ModelDir: a run folder, probe log included, that `paretodiff
//     sample`, `eval` and `conflict --checkpoint` read), solves the last
//     probe's Pareto problem and evaluates every weighting on it, samples
//     the trained and the untrained network, and returns all of it as a
//     Result. It writes nothing outside the run folder.
//   - Result holds the measurements: the training Records, the Probes, the
//     Weightings (each evaluated on Eq. 11 and Eq. 8), the Quality and the
//     Samples' point sets. Render draws it into a folder (weights.png,
//     training.png, conflict/, pareto.png, pareto.csv, samples.png,
//     quality.csv) and writes report.md (Markdown) from the Result alone.
//
// Invariants:
//   - Everything follows from Env.Seed: the same seed, sizes and backend
//     give byte-identical CSV files and the same report but for its wall
//     times.
//   - Render and Markdown read nothing but the Result; every comparison in
//     the report ("grows", "closest", "lowers every bin") is decided from
//     its numbers, so a changed number changes the words.
//   - Every file is written atomically; Files lists every file the report
//     links (Render's and the run folder's), in the report's order.
//   - Errors made here begin "demo: "; those of the layers below keep
//     theirs (bad input from the run layer wraps run.ErrInput).
package demo
