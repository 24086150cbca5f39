package cudaemu

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unsafe"

	"github.com/paretodiff/paretodiff/internal/cuda"
)

// nvrtcResult values the emulated NVRTC returns.
const (
	nvrtcSuccess          = 0
	nvrtcErrorInvalidProg = 5
	nvrtcErrorCompilation = 6
)

// nvrtcStatusNames are what nvrtcGetErrorString gives.
var nvrtcStatusNames = map[int32]string{
	nvrtcSuccess:          "NVRTC_SUCCESS",
	nvrtcErrorInvalidProg: "NVRTC_ERROR_INVALID_PROGRAM",
	nvrtcErrorCompilation: "NVRTC_ERROR_COMPILATION",
}

// The emulated NVRTC's version and the virtual architectures it targets.
var (
	nvrtcMajor, nvrtcMinor int32 = 12, 8
	nvrtcArchs                   = []int32{75, 80, 90}
)

// program is one nvrtcProgram: its source and, once compiled, its PTX
// (NUL-terminated) or its compilation log.
type program struct {
	src      string
	ptx, log []byte
}

// module is a loaded module: its kernel entries in PTX order.
type module struct{ entries []entry }

// entry is one kernel of a module, with its C parameter types.
type entry struct {
	name   string
	params []cuda.ArgKind
}

// nvrtc is the emulated libnvrtc, its functions under the symbols package
// cuda binds.
func (g *GPU) nvrtc() cuda.Library {
	prog := func(h uintptr) *program { defer g.lock()(); return g.programs[h] }
	return cuda.Library{Name: "libnvrtc.so (cudaemu)", Funcs: map[string]any{
		"nvrtcVersion":        func(major, minor *int32) int32 { *major, *minor = nvrtcMajor, nvrtcMinor; return nvrtcSuccess },
		"nvrtcGetErrorString": func(code int32) string { return nvrtcStatusNames[code] },
		"nvrtcCreateProgram": func(h *uintptr, src *byte, name *byte, numHeaders int32, headers, includeNames unsafe.Pointer) int32 {
			defer g.lock()()
			*h = uintptr(len(g.programs) + 1)
			g.programs[*h] = &program{src: goString(src)}
			return nvrtcSuccess
		},
		"nvrtcCompileProgram": func(h uintptr, n int32, options unsafe.Pointer) int32 {
			p := prog(h)
			if p == nil {
				return nvrtcErrorInvalidProg
			}
			var opts []string
			if n > 0 {
				for _, addr := range unsafe.Slice((*uintptr)(options), n) {
					opts = append(opts, goString(atAddress[byte](addr)))
				}
			}
			defer g.lock()()
			g.compiles++
			g.options = opts
			if g.failLog != "" {
				p.log = append([]byte(g.failLog), 0)
				return nvrtcErrorCompilation
			}
			ptx, err := compile(p.src)
			if err != nil {
				p.log = append([]byte(err.Error()), 0)
				return nvrtcErrorCompilation
			}
			p.ptx = append([]byte(ptx), 0)
			return nvrtcSuccess
		},
		"nvrtcGetProgramLogSize": func(h uintptr, size *uint64) int32 {
			p := prog(h)
			if p == nil {
				return nvrtcErrorInvalidProg
			}
			*size = uint64(max(len(p.log), 1))
			return nvrtcSuccess
		},
		"nvrtcGetProgramLog": func(h uintptr, out *byte) int32 {
			p := prog(h)
			if p == nil {
				return nvrtcErrorInvalidProg
			}
			copy(unsafe.Slice(out, max(len(p.log), 1)), append(p.log, 0))
			return nvrtcSuccess
		},
		"nvrtcGetPTXSize": func(h uintptr, size *uint64) int32 {
			p := prog(h)
			if p == nil {
				return nvrtcErrorInvalidProg
			}
			*size = uint64(len(p.ptx))
			return nvrtcSuccess
		},
		"nvrtcGetPTX": func(h uintptr, out *byte) int32 {
			p := prog(h)
			if p == nil {
				return nvrtcErrorInvalidProg
			}
			copy(unsafe.Slice(out, len(p.ptx)), p.ptx)
			return nvrtcSuccess
		},
		"nvrtcDestroyProgram": func(h *uintptr) int32 {
			defer g.lock()()
			delete(g.programs, *h)
			*h = 0
			return nvrtcSuccess
		},
		"nvrtcGetNumSupportedArchs": func(n *int32) int32 { *n = int32(len(nvrtcArchs)); return nvrtcSuccess },
		"nvrtcGetSupportedArchs": func(a *int32) int32 {
			copy(unsafe.Slice(a, len(nvrtcArchs)), nvrtcArchs)
			return nvrtcSuccess
		},
	}}
}

// ptxHeader opens the emulator's PTX; cuModuleLoadData refuses anything
// else (CUDA_ERROR_INVALID_PTX), such as a damaged cache file.
const ptxHeader = "// cudaemu PTX\n"

var (
	// kernelDecl matches a kernel's C declaration: its name and parameters.
	kernelDecl = regexp.MustCompile(`extern "C" __global__ void (\w+)\(([^)]*)\)`)
	// ptxEntry matches an entry of the emulator's PTX.
	ptxEntry = regexp.MustCompile(`(?m)^\.visible \.entry (\w+)\(([^)]*)\)$`)
)

// compile "compiles" CUDA C: the PTX lists each kernel the source declares
// with its parameter types, e.g. ".visible .entry fill_f32(float*, float, i64)".
// A parameter of a type no kernel argument can have is a compilation error.
func compile(src string) (string, error) {
	var b strings.Builder
	b.WriteString(ptxHeader)
	for _, m := range kernelDecl.FindAllStringSubmatch(src, -1) {
		var kinds []string
		for _, p := range strings.Split(m[2], ",") {
			if len(m[2]) == 0 || strings.TrimSpace(m[2]) == "void" {
				break
			}
			k, ok := paramKind(p)
			if !ok {
				return "", fmt.Errorf("paretodiff_kernels.cu: error: kernel %s: parameter %q has a type the emulator cannot pass", m[1], strings.TrimSpace(p))
			}
			kinds = append(kinds, k.String())
		}
		fmt.Fprintf(&b, ".visible .entry %s(%s)\n", m[1], strings.Join(kinds, ", "))
	}
	return b.String(), nil
}

// argKinds are the kernel parameter types by their C names.
var argKinds = func() map[string]cuda.ArgKind {
	out := map[string]cuda.ArgKind{}
	for _, k := range []cuda.ArgKind{cuda.ArgPtrF32, cuda.ArgPtrF64, cuda.ArgPtrI32, cuda.ArgF32, cuda.ArgF64, cuda.ArgI32, cuda.ArgI64} {
		out[k.String()] = k
	}
	return out
}()

// paramKind is the type of a C parameter declaration, e.g. "const float* x".
func paramKind(decl string) (cuda.ArgKind, bool) {
	f := strings.Fields(strings.ReplaceAll(decl, "*", " * "))
	f = slices.DeleteFunc(f, func(s string) bool { return s == "const" })
	switch {
	case len(f) == 2:
		k, ok := argKinds[f[0]]
		return k, ok && !strings.HasSuffix(k.String(), "*")
	case len(f) == 3 && f[1] == "*":
		k, ok := argKinds[f[0]+"*"]
		return k, ok
	}
	return 0, false
}

// parsePTX reads the emulator's PTX back into a module; ok is false for
// anything else.
func parsePTX(ptx string) (m *module, ok bool) {
	if !strings.HasPrefix(ptx, ptxHeader) {
		return nil, false
	}
	m = &module{}
	for _, e := range ptxEntry.FindAllStringSubmatch(ptx, -1) {
		en := entry{name: e[1]}
		if e[2] != "" {
			for _, p := range strings.Split(e[2], ", ") {
				k, ok := argKinds[p]
				if !ok {
					return nil, false
				}
				en.params = append(en.params, k)
			}
		}
		m.entries = append(m.entries, en)
	}
	return m, true
}
