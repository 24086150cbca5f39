// Package analyze is `paretodiff analyze DIR`: it reads any probe log
// folder (as package conflict's Log writes it, from `paretodiff conflict`,
// a training run's probes, or the PyTorch package's ProbeLog, which writes
// the same files) and computes, from the logged Gram matrices alone, the
// statistics of gradient conflict over training, the Pareto weights and the
// multi-task aggregators' weights of every probe with and without λ, and
// the methods tables of the last probe against closed-form weightings on
// the paper's Eq. 11 objective and Eq. 8 check (Hang et al., ICCV 2023,
// §3.3). Render draws the result: conflict's figures, CSVs, the methods
// tables and a report.
//
// Tour:
//   - Config says what is computed: the methods (conflict.SolveConfig
//     names: solvers and aggregators), the closed forms, the normaliser and
//     the λ of the weights "with λ" (absolute, the log's, or relative to
//     each probe's mean diagonal, conflict.RelativeLambda).
//   - Analyze reads the log (conflict.ReadLog), checks every Gram matrix
//     (finite, one per probe), recomputes each probe's statistics from its
//     Gram (conflict.Summarize), solves every probe twice
//     (conflict.SolveConfig.SolveWith, λ = 0 and with λ) and compares the
//     methods and closed forms on the last probe (conflict.CompareProbe):
//     a typed Result. It writes nothing.
//   - Result.Render writes the figures (conflict.WriteFigures), stats.csv,
//     weights.csv, methods.md/.csv (λ = 0), methods-lambda.md/.csv and
//     report.md (Result.Markdown) into a folder.
//
// Invariants:
//   - Every number Render writes comes from the Result; the Result comes
//     from the log's Gram matrices and losses only (the statistics and
//     weights the log holds are not trusted, so a log written by another
//     program is analysed by paretodiff's own definitions).
//   - Analyze fails on bad input (a missing folder, a truncated or
//     malformed probes.jsonl, an NPY of the wrong shape, a non-finite Gram)
//     with one error before anything is written; Render writes each file
//     atomically.
//   - The same log and Config give byte-identical CSV files and report.
//   - Errors made here begin "analyze: "; those of package conflict keep
//     theirs.
package analyze
