#!/usr/bin/env bash
# Side-by-side CPU speed of one DiT training step, the "small" preset (nn.DiTPreset) on MNIST at batch
# 128: paretodiff (Go: BenchmarkTrainStepMNIST_DiTSmall_B128, one diffusion.Trainer.StepOnce) against
# PyTorch (bench/torch_dit.py --device cpu: the same network and step), alternating in one run, with the
# threads pinned equal: GOMAXPROCS=N against torch.set_num_threads(N) and OPENBLAS_NUM_THREADS=N.
#
#   bench/compare_dit.sh                 # N = 1 and 2, 3 alternating rounds each (best of each kept)
#   THREADS=1 ROUNDS=5 bench/compare_dit.sh
#
# Needs Debian's PyTorch with OpenBLAS (apt-get install -y python3-torch libopenblas0-pthread; without
# OpenBLAS, PyTorch multiplies with the reference BLAS, about ten times slower) and the MNIST files the
# Go benchmark finds (diffusion/data.FindMNIST); PyTorch times the step on uniform noise of the same shape.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/diffusion.test" ./diffusion

best() { sort -g | head -1; }
printf '%-7s | %12s %12s | %s\n' threads "go s/step" "torch s/step" "go/torch"
for thr in ${THREADS:-1 2}; do
  : >"$tmp/go"; : >"$tmp/torch"
  for ((r = 0; r < ROUNDS; r++)); do
    GOMAXPROCS=$thr "$tmp/diffusion.test" -test.run '^$' -test.bench 'TrainStepMNIST_DiTSmall_B128$' -test.benchtime "${STEPS}x" |
      awk '/ns\/op/ {print $3 / 1e9}' >>"$tmp/go"
    OPENBLAS_NUM_THREADS=$thr OMP_NUM_THREADS=$thr "$PY" bench/torch_dit.py --device cpu --threads "$thr" --presets dit \
      --batch 128 --steps "$STEPS" --warmup-steps 5 --gram-probes 0 |
      "$PY" -c 'import json,sys; print(1 / json.load(sys.stdin)["steps_per_s"])' >>"$tmp/torch"
  done
  g=$(best <"$tmp/go"); t=$(best <"$tmp/torch")
  [ -n "$g" ] || { echo "the Go benchmark did not run (no MNIST?)"; exit 1; }
  printf '%-7s | %12.4f %12.4f | %.2f\n' "$thr" "$g" "$t" "$("$PY" -c "print($g / $t)")"
done
echo
echo "best of $ROUNDS rounds each; $(nproc) cores, load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
