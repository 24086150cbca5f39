package cuda

import (
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// cParamKind maps a C parameter declaration ("const float* x") to its kind.
func cParamKind(t *testing.T, decl string) ArgKind {
	t.Helper()
	f := strings.Fields(strings.ReplaceAll(decl, "*", " * "))
	f = slices.DeleteFunc(f, func(s string) bool { return s == "const" })
	require.Len(t, f, 3-boolInt(!slices.Contains(f, "*")), "parameter %q", decl)
	typ := f[0]
	if f[1] == "*" {
		typ += "*"
	}
	kinds := map[string]ArgKind{"float*": ArgPtrF32, "double*": ArgPtrF64, "int*": ArgPtrI32,
		"float": ArgF32, "double": ArgF64, "int": ArgI32, "i64": ArgI64}
	k, ok := kinds[typ]
	require.True(t, ok, "parameter %q has a type Go cannot pass", decl)
	return k
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// kernelDecl matches a kernel's C declaration in the sources.
var kernelDecl = regexp.MustCompile(`extern "C" __global__ void (\w+)\(([^)]*)\)`)

// parseKernels returns every kernel's parameter kinds, by name.
func parseKernels(t *testing.T, src string) map[string][]ArgKind {
	t.Helper()
	out := map[string][]ArgKind{}
	for _, m := range kernelDecl.FindAllStringSubmatch(src, -1) {
		require.NotContains(t, out, m[1], "kernel %s declared twice", m[1])
		var kinds []ArgKind
		for _, p := range strings.Split(m[2], ",") {
			kinds = append(kinds, cParamKind(t, strings.TrimSpace(p)))
		}
		out[m[1]] = kinds
	}
	return out
}

func TestKernelSourceEmbedded(t *testing.T) {
	src := KernelSource()
	require.True(t, strings.HasPrefix(src, "// ---- kernels/prelude.cuh ----\n"), "the prelude comes first")
	files, err := fs.Glob(kernelFS, "kernels/*.cu")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := kernelFS.ReadFile(f)
		require.NoError(t, err)
		if onDisk, err := os.ReadFile(f); err == nil { // absent where a test binary runs outside the source tree
			require.Equal(t, string(onDisk), string(data), "%s embedded as on disk", f)
		}
		require.Contains(t, src, "// ---- "+f+" ----\n"+string(data))
	}
	require.Equal(t, src, KernelSource(), "assembled once, deterministically")
}

// TestKernelSpecsMatchSource checks that every kernel in the sources has a
// Go parameter list (kernelSpecs) and that the two agree, type by type:
// a mismatch would make cuLaunchKernel read garbage.
func TestKernelSpecsMatchSource(t *testing.T) {
	parsed := parseKernels(t, KernelSource())
	require.ElementsMatch(t, slices.Collect(maps.Keys(kernelSpecs)), slices.Collect(maps.Keys(parsed)))
	for name, kinds := range parsed {
		require.Equal(t, signature(kernelSpecs[name]), signature(kinds), "kernel %s", name)
	}
}

// preludeOnly is kernels/prelude.cuh.
func preludeOnly() string {
	data, err := kernelFS.ReadFile(preludeFile)
	if err != nil {
		panic(err)
	}
	return string(data)
}

// clangCommand finds a clang that can compile CUDA to PTX, or "".
func clangCommand() string {
	for _, c := range []string{"clang", "clang-19", "clang-18", "clang-17", "clang-16", "clang-15", "clang-14"} {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return ""
}

// ptxParamKinds maps PTX parameter types to the Go kinds that produce them.
var ptxParamKinds = map[string][]ArgKind{
	".u64": {ArgPtrF32, ArgPtrF64, ArgPtrI32, ArgI64}, ".b64": {ArgPtrF32, ArgPtrF64, ArgPtrI32, ArgI64},
	".f32": {ArgF32}, ".f64": {ArgF64}, ".u32": {ArgI32}, ".b32": {ArgI32}, ".s32": {ArgI32},
}

var (
	ptxEntry = regexp.MustCompile(`\.entry (\w+)\(([^)]*)\)`)
	ptxParam = regexp.MustCompile(`\.param (\.\w+) `)
)

// TestKernelsCompileWithClang syntax-checks the kernels without a GPU:
// clang compiles the same translation unit NVRTC gets to PTX for sm_80
// (with the prelude's declarations, -Wall -Wextra -Werror), and the PTX's
// kernel entries and parameter types must match kernelSpecs. It skips when
// no clang is installed (CI does not need one); `apt-get install clang-15`
// enables it.
func TestKernelsCompileWithClang(t *testing.T) {
	clang := clangCommand()
	if clang == "" {
		t.Skip("no clang on PATH")
	}
	dir := t.TempDir()
	compile := func(source string) (*exec.Cmd, string, []byte, error) {
		src := filepath.Join(dir, "kernels.cu")
		out := filepath.Join(dir, "kernels.ptx")
		require.NoError(t, os.WriteFile(src, []byte(source), 0o644))
		cmd := exec.Command(clang, "-x", "cuda", "--cuda-device-only", "--cuda-gpu-arch=sm_80", "-nocudainc", "-nocudalib",
			"-Xclang", "-target-feature", "-Xclang", "+ptx70", "-DPARETODIFF_CLANG_CHECK",
			"-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", "-S", "-o", out, src)
		msg, err := cmd.CombinedOutput()
		return cmd, out, msg, err
	}
	// A clang built without the NVPTX target cannot do this at all: skip.
	if _, _, msg, err := compile(preludeOnly() + `extern "C" __global__ void probe(float* x) { x[threadIdx.x] = warp_sum(expf(1.0f)); }`); err != nil {
		t.Skipf("%s cannot compile CUDA to PTX: %s", clang, msg)
	}
	cmd, out, msg, err := compile(KernelSource())
	require.NoError(t, err, "%s\n%s", cmd, msg)
	ptx, err := os.ReadFile(out)
	require.NoError(t, err)

	entries := map[string]bool{}
	for _, m := range ptxEntry.FindAllStringSubmatch(string(ptx), -1) {
		name := m[1]
		entries[name] = true
		spec, ok := kernelSpecs[name]
		require.True(t, ok, "PTX entry %s has no kernelSpecs entry", name)
		params := ptxParam.FindAllStringSubmatch(m[2], -1)
		require.Len(t, params, len(spec), "kernel %s", name)
		for i, p := range params {
			require.Contains(t, ptxParamKinds[p[1]], spec[i], "kernel %s parameter %d is %s in PTX", name, i, p[1])
		}
	}
	require.Len(t, entries, len(kernelSpecs), "every kernel is a PTX entry")
}
