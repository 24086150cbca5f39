#!/usr/bin/env bash
# gpu-check.sh builds, on a machine with Go, everything needed to check the
# CUDA code on a GPU machine that has no Go toolchain: the paretodiff CLI and
# the test binary of every package that may touch CUDA, for linux/amd64 with
# CGO_ENABLED=0, into one folder (default dist/gpu-check), plus run.sh, which
# runs them there and prints a summary table last.
#
#   scripts/gpu-check.sh [OUT_DIR]          # here
#   OUT_DIR/run.sh [test flags...]          # on the GPU machine, e.g. -test.run GPU
#
# The packages are listed in PACKAGES below; add the engine's GPU backend
# and the training packages there as they come (or, for one build, set
# GPU_CHECK_PACKAGES="./pkg/a ./pkg/b" to add more).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
	./internal/cuda
)
# shellcheck disable=SC2206 # word splitting intended
PACKAGES+=(${GPU_CHECK_PACKAGES:-})

out=${1:-dist/gpu-check}
rm -rf "$out"
mkdir -p "$out/tests"

export CGO_ENABLED=0 GOOS=linux GOARCH=amd64
flags=(-trimpath -ldflags=-s\ -w)

echo "building paretodiff → $out/paretodiff"
go build "${flags[@]}" -o "$out/paretodiff" ./cmd/paretodiff

for pkg in "${PACKAGES[@]}"; do
	dir=${pkg#./}
	name=${dir//\//_}
	[ "$name" = "." ] || [ -z "$name" ] && name=root
	echo "building $pkg tests → $out/tests/$name/$name.test"
	mkdir -p "$out/tests/$name"
	go test -c "${flags[@]}" -o "$out/tests/$name/$name.test" "$pkg"
	if [ ! -e "$out/tests/$name/$name.test" ]; then
		echo "gpu-check: $pkg has no tests" >&2
		exit 1
	fi
	# Tests run in a folder of their own, with the package's testdata beside them.
	if [ -d "$dir/testdata" ]; then
		cp -r "$dir/testdata" "$out/tests/$name/testdata"
	fi
done

cat > "$out/run.sh" <<'EOF'
#!/usr/bin/env bash
# Runs every test binary under tests/ (built by scripts/gpu-check.sh) on this
# machine, which needs an NVIDIA driver but no Go. Extra arguments go to every
# test binary (e.g. -test.run GPU, -test.bench . -test.benchtime 100x).
# PARETODIFF_REQUIRE_CUDA=1 (the default here) makes GPU tests fail instead of
# skipping when no driver loads. Logs go to $GPU_CHECK_LOGS (default: logs/
# beside this script). The last lines are a table: one row per package with
# its passed, failed and skipped tests (subtests included) and seconds.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
logs=${GPU_CHECK_LOGS:-$here/logs}
mkdir -p "$logs"
export PARETODIFF_REQUIRE_CUDA=${PARETODIFF_REQUIRE_CUDA:-1}

if command -v nvidia-smi >/dev/null; then
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
else
	echo "(no nvidia-smi on PATH)"
fi

count() { grep -cE "^[[:space:]]*--- $1:" "$2" || true; }
now() { date +%s%N; }
# seconds since $1 (from now), with one decimal, without bc.
since() { local ms=$((($(now) - $1) / 1000000)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
rows=()
status=0

smoke=$logs/cli.log
start=$(now)
if "$here/paretodiff" weights >"$smoke" 2>&1; then cli=ok; else cli=FAIL; status=1; fi
rows+=("$(printf '%-28s %6s %6s %6s %9s  %s' paretodiff-cli - - - "$(since "$start")" "$cli")")

for dir in "$here"/tests/*/; do
	name=$(basename "$dir")
	log=$logs/$name.log
	echo "=== $name"
	start=$(now)
	(cd "$dir" && "./$name.test" -test.v -test.count=1 -test.timeout="${GPU_CHECK_TIMEOUT:-20m}" "$@") 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	secs=$(since "$start")
	result=ok
	if [ "$rc" -ne 0 ]; then result="FAIL (exit $rc)"; status=1; fi
	rows+=("$(printf '%-28s %6s %6s %6s %9s  %s' "$name" "$(count PASS "$log")" "$(count FAIL "$log")" "$(count SKIP "$log")" "$secs" "$result")")
done

echo
printf '%-28s %6s %6s %6s %9s  %s\n' package passed failed skipped seconds result
for r in "${rows[@]}"; do echo "$r"; done
exit $status
EOF
chmod +x "$out/run.sh"
echo "done: copy $out to the GPU machine (or carry it) and run $out/run.sh there"
