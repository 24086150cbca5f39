#!/usr/bin/env bash
# Side-by-side CPU speed of one ResMLP training step: paretodiff (Go) against
# PyTorch, same network, batch and width, measured back to back in one run.
#
#   bench/compare.sh            # toy and MNIST sizes
#   ROUNDS=5 bench/compare.sh   # more alternating rounds (best of each is kept)
#
# Needs Debian's PyTorch with OpenBLAS:
#   apt-get install -y python3-torch libopenblas0-pthread
# PyTorch runs with torch.set_num_threads(2) (the brief's setting) and with 1
# thread (faster on a busy 2-core machine, where OpenMP threads contend); the
# ratio is taken against the faster of the two. Go uses GOMAXPROCS=2.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
ROUNDS=${ROUNDS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/trainstep" ./bench/trainstep

# 1. The two implementations compute the same network.
for act in silu gelu; do
  "$tmp/trainstep" --check-out "$tmp/check.json" --check-act $act
  "$PY" bench/torch_resmlp.py --check "$tmp/check.json" > "$tmp/check.out" || { cat "$tmp/check.out"; echo "forward passes differ"; exit 1; }
  echo "forward check ($act): $(cat "$tmp/check.out")"
done

# 2. Speed, alternating implementations for ROUNDS rounds.
sizes=("toy 2 128 3 256 300" "mnist 784 256 3 128 60")
best() { sort -g | tail -1; }
speed() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)["steps_per_s"])'; }
printf '\n%-6s %5s %5s %5s %8s | %10s %12s %12s | %s\n' data width depth batch params "go steps/s" "torch(2thr)" "torch(1thr)" "go/torch(best)"
for s in "${sizes[@]}"; do
  read -r name dim width depth batch steps <<<"$s"
  : >"$tmp/go"; : >"$tmp/t2"; : >"$tmp/t1"
  for ((r = 0; r < ROUNDS; r++)); do
    GOMAXPROCS=2 "$tmp/trainstep" --data "$name" --width "$width" --depth "$depth" --batch "$batch" --steps "$steps" >"$tmp/go.json"
    speed <"$tmp/go.json" >>"$tmp/go"
    "$PY" bench/torch_resmlp.py --dim "$dim" --width "$width" --depth "$depth" --batch "$batch" --steps "$steps" --threads 2 | speed >>"$tmp/t2"
    "$PY" bench/torch_resmlp.py --dim "$dim" --width "$width" --depth "$depth" --batch "$batch" --steps "$steps" --threads 1 | speed >>"$tmp/t1"
  done
  params=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["params"])' <"$tmp/go.json")
  g=$(best <"$tmp/go"); t2=$(best <"$tmp/t2"); t1=$(best <"$tmp/t1")
  printf '%-6s %5s %5s %5s %8s | %10.1f %12.1f %12.1f | %.2f\n' "$name" "$width" "$depth" "$batch" "$params" "$g" "$t2" "$t1" \
    "$("$PY" -c "print($g / max($t2, $t1))")"
done
echo
echo "best of $ROUNDS rounds each; $(nproc) cores, load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
