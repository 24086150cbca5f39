// Package python holds no Go code, only the tests that run paretodiff's
// PyTorch package (python/paretodiff_torch) from `go test ./...` and check
// that what it writes is what the Go side reads.
//
// Tour: paretodiff_torch is a small Python package (torch ≥ 1.13 and numpy)
// with GramProbe, the one-pass per-bin Gram of any torch model (the Python
// twin of diffusion/gram's Pass), the --bins specs of weighting, the
// closed-form weights read from `paretodiff weights --format json`, and
// ProbeLog, the probe log folder of conflict.Log. python_test.go runs its
// unittest suite (python/tests: the probe against K autograd.grad calls,
// two gloo ranks against one process, the log and the helpers, the twins
// against the Go models, and DiTTwin, the one PyTorch DiT, which
// bench/torch_dit.py times, against per-token loops) with a
// freshly built paretodiff on $PARETODIFF_BIN, reads a log written by
// Python with conflict.ReadLog and compares it with the one conflict.Log
// writes from the same numbers, and compares the Python bins with
// weighting.ParseBins on every schedule.
//
// Invariants:
//   - Every test finds a Python that imports torch and numpy (python3 on
//     PATH, then /usr/bin/python3, Debian's python3-torch) or skips with a
//     one-line reason; .ci/run installs Debian's packages so that CI runs
//     them.
//   - A probe log written by ProbeLog has the bytes of probe.json and
//     probes.jsonl that conflict.Log writes for the same Info and Record,
//     and NPY matrices that matio.ReadNPY reads to the same float64 values.
//   - paretodiff_torch.parse_bins gives weighting.ParseBins's edges for
//     every spec kind and schedule tested.
package python
