package cudaemu

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/internal/cuda"
	"github.com/stretchr/testify/require"
)

// sourceFiles splits cuda.KernelSource into its files ("// ---- NAME ----"
// heads each).
func sourceFiles(t *testing.T) map[string]string {
	t.Helper()
	head := regexp.MustCompile(`(?m)^// ---- (\S+) ----\n`)
	src := cuda.KernelSource()
	heads := head.FindAllStringSubmatchIndex(src, -1)
	require.NotEmpty(t, heads)
	out := map[string]string{}
	for i, h := range heads {
		end := len(src)
		if i+1 < len(heads) {
			end = heads[i+1][0]
		}
		out[src[h[2]:h[3]]] = src[h[1]:end]
	}
	return out
}

// TestKernelFilesMatchSources checks that each kernels/*.cu file has one
// kernelFile, which transcribes exactly the kernels the file declares.
func TestKernelFilesMatchSources(t *testing.T) {
	var cuFiles []string
	for name, body := range sourceFiles(t) {
		if !strings.HasSuffix(name, ".cu") {
			require.Empty(t, kernelDecl.FindAllString(body, -1), "%s declares kernels", name)
			continue
		}
		cuFiles = append(cuFiles, name)
		i := slices.IndexFunc(kernelFiles, func(f kernelFile) bool { return f.file == name })
		require.GreaterOrEqual(t, i, 0, "no kernelFile for %s", name)
		var declared []string
		for _, m := range kernelDecl.FindAllStringSubmatch(body, -1) {
			declared = append(declared, m[1])
		}
		require.ElementsMatch(t, declared, slices.Collect(maps.Keys(kernelFiles[i].kernels)), "kernels of %s", name)
	}
	require.Len(t, kernelFiles, len(cuFiles), "one kernelFile per .cu file")
}

// TestGeometryMatchesPrelude checks the block shapes the transcriptions
// check against kernels/prelude.cuh.
func TestGeometryMatchesPrelude(t *testing.T) {
	prelude := sourceFiles(t)["kernels/prelude.cuh"]
	defines := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^#define (PD_\w+) (\d+)`).FindAllStringSubmatch(prelude, -1) {
		v, err := strconv.Atoi(m[2])
		require.NoError(t, err)
		defines[m[1]] = v
	}
	require.Equal(t, map[string]int{"PD_BLOCK": blockThreads, "PD_COLS_X": colsX, "PD_COLS_Y": colsY}, defines)
}

// TestCompile checks the emulated NVRTC's reading of the kernels: every
// kernel is an entry of the PTX with its C parameter types, which
// cuModuleLoadData reads back; other PTX is refused.
func TestCompile(t *testing.T) {
	ptx, err := compile(cuda.KernelSource())
	require.NoError(t, err)
	require.Contains(t, ptx, "\n.visible .entry fill_f32(float*, float, i64)\n")
	require.Contains(t, ptx, "\n.visible .entry timestep_embedding_f32(float*, int*, int, int, float, float)\n")
	m, ok := parsePTX(ptx)
	require.True(t, ok)
	require.Len(t, m.entries, len(kernels))
	for _, e := range m.entries {
		require.Contains(t, kernels, e.name)
	}
	i := slices.IndexFunc(m.entries, func(e entry) bool { return e.name == "f32_cols_to_f64" })
	require.Equal(t, []cuda.ArgKind{cuda.ArgPtrF64, cuda.ArgPtrF32, cuda.ArgI32, cuda.ArgI64, cuda.ArgI64, cuda.ArgI32}, m.entries[i].params)

	_, ok = parsePTX("garbage")
	require.False(t, ok)
	_, err = compile(`extern "C" __global__ void k(float* x, unsigned char c)`)
	require.EqualError(t, err, `paretodiff_kernels.cu: error: kernel k: parameter "unsigned char c" has a type the emulator cannot pass`)
}

func TestParamKind(t *testing.T) {
	for decl, want := range map[string]cuda.ArgKind{
		"float* out": cuda.ArgPtrF32, " const float* x": cuda.ArgPtrF32, "const float *x": cuda.ArgPtrF32,
		"double* partial": cuda.ArgPtrF64, "const int* t": cuda.ArgPtrI32,
		"float eps": cuda.ArgF32, "double v": cuda.ArgF64, "int rows": cuda.ArgI32, "i64 n": cuda.ArgI64,
	} {
		got, ok := paramKind(decl)
		require.True(t, ok, decl)
		require.Equal(t, want, got, decl)
	}
	for _, decl := range []string{"float", "i64* p", "char c", "float** p", "float x y"} {
		_, ok := paramKind(decl)
		require.False(t, ok, decl)
	}
}
