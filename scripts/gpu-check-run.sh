#!/usr/bin/env bash
# run.sh: the device check on a GPU machine without Go. scripts/gpu-check.sh
# copies this file (scripts/gpu-check-run.sh) into the folder it builds:
#
#   dist/gpu-check/run.sh                      # logs and summary.txt in dist/gpu-check/logs/
#   OUT=/an/empty/folder dist/gpu-check/run.sh # $OUT gets summary.txt and logs.tar.gz, nothing else
#
# Steps, in this order, each under its own time cap, all inside GPU_CHECK_BUDGET
# seconds (default 450, so that the whole run, unpacking included, fits 8
# minutes of an H100 or H200); a step the budget cannot reach is NOT RUN and
# counts as a failure, and the table always prints:
#   0. the CLI runs (paretodiff weights); the GPU probe: one toy training step
#      with --device cuda tells whether a GPU is usable (and compiles the
#      kernels into the PTX cache that the later steps reuse);
#   1. the CUDA packages' test binaries (internal/cuda, nncuda, gpu), with
#      PARETODIFF_SKIP_EMULATOR=1: the tests that run on the emulator are CPU
#      tests that `go test` runs everywhere, so only the real-GPU tests run;
#   2. training checks on MNIST with --device cuda, the ResMLP and the DiT
#      (--model dit): the held-out and training losses must fall and follow a
#      CPU run of the same seed (bench/gpu_report.py train-check); then the
#      CUDA ResMLP forward pass against PyTorch's (bench/torch_resmlp.py);
#   3. the benchmark against PyTorch eager on the same GPU: the ResMLP at the
#      MNIST size at batch 256 (bench/gpustep, bench/torch_resmlp_cuda.py) and
#      the DiT small preset (gpustep --model dit, bench/torch_dit.py --like);
#   4. the CLI's end-to-end tests (cmd/paretodiff's test binary), last.
#
# Without a GPU (the probe fails with "no usable CUDA driver": no
# libcuda.so.1, or no device), PARETODIFF_REQUIRE_CUDA is 0 unless the caller
# set it, so the test binaries' GPU tests skip, each saying why (the summary
# counts the reasons); steps 2 and 3 are SKIPPED with the probe's reason; and
# the summary says NO GPU at its top. A GPU that is present but unusable
# otherwise (NVRTC or cuBLAS missing, a broken driver) is a failure, and the
# tests run with PARETODIFF_REQUIRE_CUDA=1, so that they fail rather than skip.
#
# Exit status: 0 when every step that ran passed (also when the GPU steps were
# skipped for want of a GPU: read the summary's first lines); 1 when a step
# failed, timed out or was not reached; 2 on a broken folder.
#
# What comes back under $OUT: summary.txt (the GPU, the table, the counts,
# the first lines of each failure, the skip reasons, the benchmark tables) and
# logs.tar.gz (every log, metrics and JSON result; no checkpoints, no PTX
# cache; a log over GPU_CHECK_MAX_LOG bytes keeps its first and last halves
# with a note; the archive stays under 16 MiB). The PTX cache
# (XDG_CACHE_HOME), the unpacked binaries and the run folders stay in a
# scratch folder, removed at the end. summary.txt and logs.tar.gz are
# rewritten after every step, so a run stopped from outside (even by
# SIGKILL) still leaves the table and the logs so far.
#
# Settings (environment): GPU_CHECK_BUDGET (450), GPU_CHECK_LOGS (the logs'
# folder without OUT), GPU_CHECK_STEPS and GPU_CHECK_DIT_STEPS (the cuda
# training runs, 2000 each; the CPU runs take 200), GPU_BENCH_STEPS (300),
# GPU_BENCH_BATCH (256), GPU_BENCH_SIZES (mnist), GPU_BENCH_DIT (dit: the DiT
# presets), PYTHON (python3), GPU_CHECK_DEVICE (cuda; cpu runs the GPU steps
# 2 and 3 on the CPU, to try this script on a machine without a GPU: the
# summary then says that nothing ran on a GPU). Extra arguments go to every
# test binary (e.g. -test.run GPU).
set -uo pipefail
src=$(cd "$(dirname "$0")" && pwd)
t_start=$(date +%s)
budget=${GPU_CHECK_BUDGET:-450}
deadline=$((t_start + budget))
max_log=${GPU_CHECK_MAX_LOG:-4194304}
device=${GPU_CHECK_DEVICE:-cuda}
case $device in cuda | cpu) ;; *) echo "run.sh: GPU_CHECK_DEVICE=$device: want cuda or cpu" >&2; exit 2 ;; esac

# --- folders ----------------------------------------------------------------
here=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX") || exit 2
res="" # where summary.txt (and, with OUT, logs.tar.gz) go
if [ -n "${OUT:-}" ]; then
	if ! mkdir -p "$OUT" || ! res=$(cd "$OUT" && pwd); then
		echo "run.sh: cannot write OUT=$OUT" >&2
		exit 2
	fi
	logs=${GPU_CHECK_LOGS:-$here/logs}
else
	logs=${GPU_CHECK_LOGS:-$src/logs}
fi
if [ -n "${GPU_CHECK_LOGS:-}" ] && [ -n "$(ls -A "$GPU_CHECK_LOGS" 2>/dev/null)" ]; then
	echo "run.sh: GPU_CHECK_LOGS=$GPU_CHECK_LOGS is not empty" >&2
	exit 2
fi
[ "$logs" = "$src/logs" ] && rm -rf "$logs" # the last run's
if ! mkdir -p "$logs" || ! logs=$(cd "$logs" && pwd); then
	echo "run.sh: cannot write the logs folder $logs" >&2
	exit 2
fi
res=${res:-$logs}
pkg=$here/pkg   # the unpacked copy of this folder
runs=$logs/runs # training run folders (their checkpoints stay out of the archive)
mkdir -p "$pkg" "$runs" "$here/cache"
failures=$here/failures.txt skips=$here/skips.txt
: >"$failures"
: >"$skips"

# --- the table and the summary ----------------------------------------------
rows=() nfail=0 nskip=0 nok=0 status=0 current="" gpu="" nogpu=""
row() { # NAME PASSED FAILED SKIPPED SECONDS RESULT
	rows+=("$(printf '%-28s %6s %6s %6s %8s  %s' "$@")")
	case $6 in
	ok*) nok=$((nok + 1)) ;;
	SKIPPED*) nskip=$((nskip + 1)) ;;
	*) nfail=$((nfail + 1)) status=1 ;;
	esac
	write_summary
	[ -z "${OUT:-}" ] || pack
}
table() {
	printf '%-28s %6s %6s %6s %8s  %s\n' check passed failed skipped seconds result
	local r
	for r in "${rows[@]}"; do echo "$r"; done
}
write_summary() {
	{
		echo "paretodiff GPU check, $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname 2>/dev/null || echo '?')"
		if [ -n "$nogpu" ] && [ "${PARETODIFF_REQUIRE_CUDA:-}" = 1 ]; then
			echo "NO GPU: $nogpu"
			echo "NO GPU, and PARETODIFF_REQUIRE_CUDA=1: every GPU test and GPU step FAILS."
		elif [ -n "$nogpu" ]; then
			echo "NO GPU: $nogpu"
			echo "NO GPU: every GPU test$([ "$device" = cpu ] || echo " and GPU step") was SKIPPED; this run checked nothing on a GPU."
		else
			echo "GPU: ${gpu:-?}"
		fi
		local verdict=PASS
		[ "$status" -ne 0 ] && verdict=FAIL
		[ -n "$current" ] && verdict="INCOMPLETE (running: $current; so far $verdict)"
		[ "$device" = cpu ] && echo "GPU_CHECK_DEVICE=cpu: the GPU steps (training, forward check, benchmark) ran on the CPU, not on a GPU."
		echo "result: $verdict: $nok ok, $nfail failed, $nskip skipped; $(($(date +%s) - t_start)) s of a $budget s budget"
		echo
		table
		if [ -s "$failures" ]; then
			echo
			echo "Failures (the first lines of each; the logs are in logs.tar.gz):"
			cat "$failures"
		fi
		if [ -s "$skips" ]; then
			echo
			echo "Skipped tests, by reason:"
			cat "$skips"
		fi
		local b
		for b in "$logs"/bench-*.txt; do
			[ -e "$b" ] || continue
			echo
			echo "Benchmark ($(basename "$b" .txt)):"
			cat "$b"
		done
	} >"$res/.summary.tmp" && mv -f "$res/.summary.tmp" "$res/summary.txt"
}

# excerpt LOG: the first failure of a Go test log (the messages of the first
# failed test that printed any, or a panic and what follows it, e.g. a test
# timeout naming the running tests), else the log's last lines; 15 lines at most.
excerpt() {
	awk '
		/^=== (RUN|CONT|NAME|PAUSE) / { cur = $3; next }
		/^[[:space:]]*--- FAIL: / {
			failed = failed (failed ? ", " : "") $3
			if (!shown && ($3 in msg)) { print "--- FAIL: " $3; printf "%s", msg[$3]; shown = 1 }
			next
		}
		/^[[:space:]]*--- (PASS|SKIP): / { next }
		/^panic: / && !shown { panicking = 1 }
		panicking && !shown { print; if (++p >= 14) shown = 1; next }
		cur != "" && n[cur] < 13 { msg[cur] = msg[cur] $0 "\n"; n[cur]++ }
		END { if (failed) print "failed: " substr(failed, 1, 300); if (!shown && !failed) exit 3 }
	' "$1" 2>/dev/null | head -15 || true
	# A log with no failed Go test in it: its end.
	if ! grep -qE '^[[:space:]]*--- FAIL: |^panic: ' "$1" 2>/dev/null; then tail -15 "$1"; fi
}
fail() { # NAME LOG RESULT: record the failure's first lines (stdout and summary)
	{
		echo "== $1: $3 (log: ${2#"$logs"/})"
		excerpt "$2" | sed -e "s|$pkg/||g" -e "s|$here/|…/|g" -e 's/^/    /' | cut -c1-240
	} | tee -a "$failures"
}
# skip_reasons LOG: the reasons of the skipped tests, counted.
skip_reasons() {
	awk '
		/^=== (RUN|CONT|NAME|PAUSE) / { cur = $3; next }
		/^[[:space:]]*--- SKIP: / { print (($3 in msg) ? msg[$3] : "(no reason printed)"); next }
		/^[[:space:]]*--- (PASS|FAIL): / { next }
		cur != "" && !(cur in msg) { m = $0; sub(/^[[:space:]]*[A-Za-z0-9_]+\.go:[0-9]+: /, "", m); msg[cur] = m }
	' "$1" | cut -c1-150 | sort | uniq -c | sort -rn
}

# --- time caps ----------------------------------------------------------------
# cap SECONDS: min(SECONDS, the seconds left), or 0 when under 10 are left.
cap() {
	local left=$((deadline - $(date +%s)))
	if [ "$left" -lt 10 ]; then echo 0; elif [ "$left" -lt "$1" ]; then echo "$left"; else echo "$1"; fi
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# begin NAME: a step starts (its start time in $start; the summary says it runs).
begin() {
	current=$1 start=$(now_ms)
	write_summary
}
since() { local ms=$(($(now_ms) - $1)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
# capped SECONDS LOG CMD...: CMD under a timeout of SECONDS (from cap), its
# output appended to LOG (its stdout to $capped_stdout instead, when set);
# status 124 or 137 when it timed out, 125 when SECONDS is 0.
capped() {
	local t=$1 log=$2
	shift 2
	if [ "$t" -eq 0 ]; then
		echo "run.sh: not run: the time budget is spent" >>"$log"
		return 125
	fi
	echo "+ $* (cap ${t}s)" >>"$log"
	timeout -k 5 "$t" "$@" </dev/null >>"${capped_stdout:-$log}" 2>>"$log"
}
# verdict RC SECONDS: the result column of a command's status.
verdict() {
	case $1 in
	0) echo ok ;;
	124 | 137) echo "FAIL (timed out after its ${2}s cap)" ;;
	125) echo "NOT RUN (time budget spent)" ;;
	*) echo "FAIL (exit $1)" ;;
	esac
}

# --- finishing: the summary and the archive, whatever happens -------------------
# (pack and finish run from the EXIT trap.)
# shellcheck disable=SC2317
pack() { # the logs, without checkpoints or caches, each file cut to max_log, into $res/logs.tar.gz
	local stage=$here/pack/logs f size note=$here/pack/logs/PACKING.txt
	rm -rf "$here/pack"
	mkdir -p "$stage"
	echo "Left out: checkpoints (*.bin, *.ckpt, checkpoints/), the PTX cache. Logs over $max_log bytes keep their ends:" >"$note"
	(cd "$logs" && find . -type f ! -name '*.bin' ! -name '*.ckpt' ! -name '*.pt' ! -name '*.safetensors' \
		! -path '*/checkpoints/*' ! -path '*/cache/*' ! -name '.summary.tmp' ! -name 'logs.tar.gz' -print) |
		while IFS= read -r f; do
			mkdir -p "$stage/$(dirname "$f")"
			size=$(stat -c %s "$logs/$f")
			if [ "$size" -gt "$max_log" ]; then
				{
					head -c $((max_log / 2)) "$logs/$f"
					printf '\n[run.sh: %d bytes cut here; the file had %d]\n' $((size - max_log)) "$size"
					tail -c $((max_log / 2)) "$logs/$f"
				} >"$stage/$f"
				echo "  $f: $size bytes, cut to $max_log" >>"$note"
			else
				cp "$logs/$f" "$stage/$f"
			fi
		done
	[ -e "$res/summary.txt" ] && cp "$res/summary.txt" "$stage/"
	tar -czf "$res/logs.tar.gz" -C "$here/pack" logs
	if [ "$(stat -c %s "$res/logs.tar.gz")" -ge $((16 * 1024 * 1024)) ]; then
		# Still too big to come back: only the .log and .txt files, cut to 256 KiB.
		find "$stage" -type f ! -name '*.log' ! -name '*.txt' -delete
		find "$stage" -type f -size +256k -exec sh -c 'for f; do tail -c 262144 "$f" >"$f.cut" && mv "$f.cut" "$f"; done' sh {} +
		echo "The whole archive was over 16 MiB: only .log and .txt files, each cut to its last 256 KiB." >>"$note"
		tar -czf "$res/logs.tar.gz" -C "$here/pack" logs
	fi
}
# shellcheck disable=SC2317
finish() {
	local rc=$status
	[ -n "$current" ] && { row "$current" - - - - "FAIL (interrupted)"; rc=1; }
	current=""
	write_summary
	echo
	if [ -n "$nogpu" ]; then echo "NO GPU: $nogpu -- this run checked nothing on a GPU"; else echo "GPU: $gpu"; fi
	table
	local b
	for b in "$logs"/bench-*.txt; do [ -e "$b" ] && { echo; cat "$b"; }; done
	if [ -n "${OUT:-}" ]; then
		pack
		echo "summary: $res/summary.txt; logs: $res/logs.tar.gz ($(stat -c %s "$res/logs.tar.gz") bytes)"
	else
		echo "summary: $res/summary.txt; logs: $logs"
	fi
	rm -rf "$here"
	exit "$rc"
}
trap finish EXIT
trap 'status=1; exit 1' INT TERM

# --- 0. unpack, the CLI, the GPU probe ------------------------------------------
# The binaries travel compressed (scripts/gpu-check.sh); the carried folder
# may be read-only, so they are unpacked into the scratch folder.
(cd "$src" && tar -cf - --exclude=./logs .) | (cd "$pkg" && tar -xf -) || exit 2
find "$pkg/paretodiff.gz" "$pkg/bench/gpustep.gz" "$pkg/tests" -name '*.gz' \( -path "$pkg/tests/*.test.gz" -o ! -path "$pkg/tests/*" \) 2>/dev/null |
	while read -r z; do gzip -d "$z" && chmod +x "${z%.gz}"; done
[ -x "$pkg/paretodiff" ] || { echo "run.sh: $src has no paretodiff(.gz): not a folder scripts/gpu-check.sh built" >&2; exit 2; }
export XDG_CACHE_HOME=$here/cache # the kernels' PTX cache: fresh, outside $OUT and the logs
export PARETODIFF_MNIST_DIR=$pkg/mnist PARETODIFF_SKIP_EMULATOR=1 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# The Python with PyTorch: $PYTHON, else the first of python3 and the
# system's /usr/bin/python3 that imports torch (python3 on PATH may be a
# virtual environment without it).
PY=${PYTHON:-python3}
if [ -z "${PYTHON:-}" ] && ! "$PY" -c 'import torch' >/dev/null 2>&1 && [ -x /usr/bin/python3 ] &&
	/usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
	PY=/usr/bin/python3
fi
gpu="(no nvidia-smi on PATH)"
if command -v nvidia-smi >/dev/null; then
	gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)
fi

begin paretodiff-cli
capped "$(cap 15)" "$logs/cli.log" "$pkg/paretodiff" weights
rc=$?
current=""
row paretodiff-cli - - - "$(since "$start")" "$(verdict $rc 15)"
[ $rc -eq 0 ] || fail paretodiff-cli "$logs/cli.log" "$(verdict $rc 15)"

begin "gpu probe"
capped "$(cap 90)" "$logs/gpu-probe.log" "$pkg/paretodiff" train --data toy:8gaussians --steps 1 --batch 8 \
	--device cuda --progress none --checkpoint-every 0 --out "$runs/gpu-probe"
rc=$?
current=""
if [ $rc -eq 0 ]; then
	dev=$(grep -m1 -o 'device: cuda.*' "$logs/gpu-probe.log")
	gpu="$gpu; paretodiff: ${dev:-device: ?}"
	row "gpu probe" - - - "$(since "$start")" "ok (${dev:-?})"
elif [ $rc -ne 124 ] && [ $rc -ne 137 ] && grep -q 'no usable CUDA driver' "$logs/gpu-probe.log"; then
	nogpu=$(grep -m1 -o 'cuda: no usable CUDA driver.*' "$logs/gpu-probe.log")
	nogpu="$nogpu; nvidia-smi: $gpu"
	if [ "${PARETODIFF_REQUIRE_CUDA:-}" = 1 ]; then
		row "gpu probe" - - - "$(since "$start")" "FAIL (no GPU, and PARETODIFF_REQUIRE_CUDA=1)"
		fail "gpu probe" "$logs/gpu-probe.log" "no GPU"
	else
		row "gpu probe" - - - "$(since "$start")" "SKIPPED (no GPU$([ "$device" = cpu ] && echo "; GPU_CHECK_DEVICE=cpu: the GPU steps run on the CPU" || echo ": the GPU steps are skipped"))"
	fi
else
	row "gpu probe" - - - "$(since "$start")" "$(verdict $rc 90): a GPU that does not work"
	fail "gpu probe" "$logs/gpu-probe.log" "$(verdict $rc 90)"
fi
# GPU tests must not skip where a driver loads; without one they skip.
if [ -z "${PARETODIFF_REQUIRE_CUDA:-}" ]; then
	if [ -n "$nogpu" ]; then export PARETODIFF_REQUIRE_CUDA=0; else export PARETODIFF_REQUIRE_CUDA=1; fi
fi
echo "GPU: ${nogpu:+NONE: }${nogpu:-$gpu} (PARETODIFF_REQUIRE_CUDA=$PARETODIFF_REQUIRE_CUDA)"

# gpu_step NAME: 0 when the GPU steps run, else the row says SKIPPED (no GPU).
gpu_step() {
	[ -z "$nogpu" ] || [ "$PARETODIFF_REQUIRE_CUDA" = 1 ] || [ "$device" = cpu ] && return 0
	row "$1" - - - 0 "SKIPPED (no GPU)"
	return 1
}

# --- 1. and 4. test binaries ------------------------------------------------------
count() { grep -cE "^[[:space:]]*--- $1:" "$2" || true; }
# run_tests CAP PATH [ARGS...]: one test binary, in its package's folder.
run_tests() {
	local c=$1 bin=$pkg/tests/$2 name t rc log result skipped
	shift 2
	name=$(basename "$bin" .test)
	log=$logs/$name.log
	echo "=== $name"
	begin "$name"
	t=$(cap "$c")
	(cd "$(dirname "$bin")" && capped "$t" "$log" "./$name.test" -test.v -test.count=1 -test.timeout="$((t > 5 ? t - 5 : 1))s" "$@")
	rc=$?
	current=""
	result=$(verdict $rc "$t")
	skipped=$(count SKIP "$log")
	if [ "$skipped" -gt 0 ]; then
		[ $rc -eq 0 ] && result="ok; most skipped: $(skip_reasons "$log" | head -1 | sed -E 's/^ *([0-9]+) /\1× /' | cut -c1-60)"
		{
			echo "$name:"
			skip_reasons "$log" | sed 's/^/  /'
		} >>"$skips"
	fi
	row "$name" "$(count PASS "$log")" "$(count FAIL "$log")" "$skipped" "$(since "$start")" "$result"
	[ $rc -eq 0 ] || fail "$name" "$log" "$result"
	grep -E '^(--- FAIL|FAIL|ok|PASS|panic)' "$log" | head -5
}
lists=$pkg/tests/binaries.txt
[ -s "$lists" ] || { echo "run.sh: no $lists" >&2; exit 2; }
while read -r kind c path; do
	[ "$kind" = cuda ] && run_tests "$c" "$path" "$@"
done <"$lists"

# --- 2. training checks ------------------------------------------------------------
# train_check MODEL STEPS: MNIST on cuda for STEPS steps and on the CPU for 200,
# the same seed; gpu_report.py train-check compares them.
train_check() {
	local model=$1 steps=$2 label="train mnist --model $1" start rc result
	gpu_step "$label" || return 0
	echo "=== $label"
	local args=(train --data mnist --model "$model" --log-every 100 --checkpoint-every 0 --progress lines --seed 1)
	begin "$label"
	rm -rf "$runs/$model-cuda" "$runs/$model-cpu"
	capped "$(cap 120)" "$logs/train-$model-cuda.log" "$pkg/paretodiff" "${args[@]}" --steps "$steps" --device "$device" --out "$runs/$model-cuda"
	rc=$?
	result=$(verdict $rc 120)
	if [ $rc -eq 0 ]; then
		capped "$(cap 90)" "$logs/train-$model-cpu.log" "$pkg/paretodiff" "${args[@]}" --steps 200 --device cpu --out "$runs/$model-cpu"
		rc=$?
		result="$(verdict $rc 90) (the cpu run)"
	fi
	if [ $rc -eq 0 ]; then
		result=$("$PY" "$pkg/bench/gpu_report.py" train-check "$runs/$model-cuda/metrics.jsonl" "$runs/$model-cpu/metrics.jsonl" 2>&1 | tee "$logs/train-$model-check.log")
		rc=$?
		[ $rc -eq 0 ] || result="FAIL: ${result#FAIL: }"
	fi
	current=""
	row "$label" - - - "$(since "$start")" "$(echo "$result" | head -1 | cut -c1-160)"
	if [ $rc -ne 0 ]; then
		local l=$logs/train-$model-cuda.log
		[ -s "$logs/train-$model-cpu.log" ] && l=$logs/train-$model-cpu.log
		[ -s "$logs/train-$model-check.log" ] && l=$logs/train-$model-check.log
		fail "$label" "$l" "${result%%$'\n'*}"
	fi
	[ $rc -ne 0 ] || tail -2 "$logs/train-$model-cuda.log"
}
train_check resmlp "${GPU_CHECK_STEPS:-2000}"
train_check dit "${GPU_CHECK_DIT_STEPS:-2000}"

# The CUDA ResMLP forward pass against PyTorch's (on PyTorch's CPU).
if gpu_step "forward vs pytorch"; then
	echo "=== forward vs pytorch"
	begin "forward vs pytorch"
	result=ok
	for act in silu gelu; do
		log=$logs/check-$act.log
		capped "$(cap 45)" "$log" "$pkg/bench/gpustep" --device "$device" --check-out "$logs/check-$act.json" --check-act $act &&
			capped "$(cap 60)" "$log" "$PY" "$pkg/bench/torch_resmlp.py" --check "$logs/check-$act.json"
		rc=$?
		if [ $rc -ne 0 ] && [ "$result" = ok ]; then
			result="$(verdict $rc 60) ($act)"
			fail "forward vs pytorch" "$log" "$result"
		fi
		tail -1 "$log"
	done
	current=""
	row "forward vs pytorch" - - - "$(since "$start")" "$result"
fi

# --- 3. the benchmark ----------------------------------------------------------------
bench_args=(--steps "${GPU_BENCH_STEPS:-300}" --batch "${GPU_BENCH_BATCH:-256}" --device "$device")
# bench LABEL NAME GO_ARGS -- TORCH_ARGS: ours (bench/gpustep GO_ARGS), then
# PyTorch's (python3 TORCH_ARGS), their JSON lines in bench-NAME-{go,torch}.jsonl,
# then the table bench-NAME.txt. PyTorch's side runs even when ours fails, so
# that its numbers come back (torch_dit.py --like falls back to --presets).
bench() {
	local label=$1 name=$2 result=ok rc go=() pt=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do go+=("$1"); shift; done
	shift
	pt=("$@")
	gpu_step "$label" || return 0
	echo "=== $label"
	begin "$label"
	capped_stdout=$logs/bench-$name-go.jsonl capped "$(cap 90)" "$logs/bench-$name-go.log" \
		"$pkg/bench/gpustep" "${go[@]}" "${bench_args[@]}" --mnist-dir "$pkg/mnist"
	rc=$?
	if [ $rc -ne 0 ]; then
		result="$(verdict $rc 90) (ours: gpustep)"
		fail "$label" "$logs/bench-$name-go.log" "$result"
	fi
	capped_stdout=$logs/bench-$name-torch.jsonl capped "$(cap 120)" "$logs/bench-$name-torch.log" \
		"$PY" "${pt[@]}" "${bench_args[@]}"
	rc=$?
	if [ $rc -ne 0 ] && [ "$result" = ok ]; then
		result="$(verdict $rc 120) (pytorch)"
		fail "$label" "$logs/bench-$name-torch.log" "$result"
	fi
	if ! "$PY" "$pkg/bench/gpu_report.py" bench-table "$logs/bench-$name-go.jsonl" "$logs/bench-$name-torch.jsonl" \
		>"$logs/bench-$name.txt" 2>&1 && [ "$result" = ok ]; then
		result="FAIL (see the table)"
		fail "$label" "$logs/bench-$name.txt" "$result"
	fi
	current=""
	row "$label" - - - "$(since "$start")" "$result"
}
bench "bench resmlp vs pytorch" resmlp --sizes "${GPU_BENCH_SIZES:-mnist}" -- \
	"$pkg/bench/torch_resmlp_cuda.py" --sizes "${GPU_BENCH_SIZES:-mnist}"
bench "bench dit vs pytorch" dit --model dit --sizes "${GPU_BENCH_DIT:-dit}" -- \
	"$pkg/bench/torch_dit.py" --like "$logs/bench-dit-go.jsonl" --presets "${GPU_BENCH_DIT:-dit}"

# --- 4. the CLI's end-to-end tests, last -----------------------------------------------
while read -r kind c path; do
	[ "$kind" = cli ] && run_tests "$c" "$path" "$@"
done <"$lists"
exit $status
