package cuda

import (
	"fmt"
	"strings"
	"unsafe"
)

// nvrtcAPI holds the NVRTC functions this package calls. An nvrtcProgram
// is a uintptr and every nvrtcResult is int32.
type nvrtcAPI struct {
	path string

	nvrtcVersion              func(major, minor *int32) int32
	nvrtcGetErrorString       func(code int32) string
	nvrtcCreateProgram        func(prog *uintptr, src *byte, name *byte, numHeaders int32, headers, includeNames unsafe.Pointer) int32
	nvrtcCompileProgram       func(prog uintptr, numOptions int32, options unsafe.Pointer) int32
	nvrtcGetProgramLogSize    func(prog uintptr, size *uint64) int32
	nvrtcGetProgramLog        func(prog uintptr, log *byte) int32
	nvrtcGetPTXSize           func(prog uintptr, size *uint64) int32
	nvrtcGetPTX               func(prog uintptr, ptx *byte) int32
	nvrtcDestroyProgram       func(prog *uintptr) int32
	nvrtcGetNumSupportedArchs func(n *int32) int32     // optional (CUDA ≥ 11.2)
	nvrtcGetSupportedArchs    func(archs *int32) int32 // optional (CUDA ≥ 11.2)
}

var theNVRTC = lazyLib[nvrtcAPI]{load: func() (*nvrtcAPI, error) {
	return loadNVRTC(systemSearchEnv(), systemDlopen)
}}

// nvrtc returns the loaded NVRTC library, loading it on first use.
func nvrtc() (*nvrtcAPI, error) { return theNVRTC.get() }

// searchedWhere is the one-line summary of searchDirs for error messages.
const searchedWhere = "searched $CUDA_HOME, $CUDA_PATH, $LD_LIBRARY_PATH, /usr/local/cuda*/lib64, the system library folders and pip's nvidia wheels"

func loadNVRTC(env searchEnv, open dlopenFunc) (*nvrtcAPI, error) {
	h, path, err := openFirst(libCandidates(nvrtcLib, env), open)
	if err != nil {
		return nil, &loadError{ErrNoNVRTC, fmt.Sprintf("%s: %s; install the CUDA toolkit or set CUDA_HOME", nvrtcLib, searchedWhere)}
	}
	return bindNVRTC(&symbols{name: path, lookup: dlsymBinder(h)})
}

// bindNVRTC binds NVRTC's functions from s.
func bindNVRTC(s *symbols) (*nvrtcAPI, error) {
	n := &nvrtcAPI{path: s.name}
	s.bind(&n.nvrtcVersion, true, "nvrtcVersion")
	s.bind(&n.nvrtcGetErrorString, true, "nvrtcGetErrorString")
	s.bind(&n.nvrtcCreateProgram, true, "nvrtcCreateProgram")
	s.bind(&n.nvrtcCompileProgram, true, "nvrtcCompileProgram")
	s.bind(&n.nvrtcGetProgramLogSize, true, "nvrtcGetProgramLogSize")
	s.bind(&n.nvrtcGetProgramLog, true, "nvrtcGetProgramLog")
	s.bind(&n.nvrtcGetPTXSize, true, "nvrtcGetPTXSize")
	s.bind(&n.nvrtcGetPTX, true, "nvrtcGetPTX")
	s.bind(&n.nvrtcDestroyProgram, true, "nvrtcDestroyProgram")
	s.bind(&n.nvrtcGetNumSupportedArchs, false, "nvrtcGetNumSupportedArchs")
	s.bind(&n.nvrtcGetSupportedArchs, false, "nvrtcGetSupportedArchs")
	if err := s.err(ErrNoNVRTC, "not a usable NVRTC"); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *nvrtcAPI) check(call string, code int32) error {
	if code == 0 {
		return nil
	}
	return &Error{Call: call, Code: int(code), Name: n.nvrtcGetErrorString(code)}
}

// version returns NVRTC's "major.minor".
func (n *nvrtcAPI) version() (string, error) {
	var major, minor int32
	if err := n.check("nvrtcVersion", n.nvrtcVersion(&major, &minor)); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d.%d", major, minor), nil
}

// supportedArchs lists the virtual architectures NVRTC can target (e.g.
// 75, 80, 90), or nil when this NVRTC cannot say.
func (n *nvrtcAPI) supportedArchs() ([]int, error) {
	if n.nvrtcGetNumSupportedArchs == nil || n.nvrtcGetSupportedArchs == nil {
		return nil, nil
	}
	var count int32
	if err := n.check("nvrtcGetNumSupportedArchs", n.nvrtcGetNumSupportedArchs(&count)); err != nil {
		return nil, err
	}
	if count <= 0 {
		return nil, nil
	}
	archs := make([]int32, count)
	if err := n.check("nvrtcGetSupportedArchs", n.nvrtcGetSupportedArchs(&archs[0])); err != nil {
		return nil, err
	}
	out := make([]int, count)
	for i, a := range archs {
		out[i] = int(a)
	}
	return out, nil
}

// chooseArch picks the virtual architecture to compile for on a device of
// compute capability devArch (major·10 + minor): devArch itself if NVRTC
// supports it or cannot say, else the newest supported one below it (PTX
// for an older virtual architecture is JIT-compiled by the driver for a
// newer GPU). ok is false when NVRTC supports nothing at or below devArch.
func chooseArch(devArch int, supported []int) (arch int, ok bool) {
	if len(supported) == 0 {
		return devArch, true
	}
	best := -1
	for _, a := range supported {
		if a == devArch {
			return a, true
		}
		if a < devArch && a > best {
			best = a
		}
	}
	return best, best >= 0
}

// compile compiles one CUDA C translation unit to PTX with the given
// options. A compilation failure returns an *Error carrying NVRTC's log.
func (n *nvrtcAPI) compile(src, name string, options []string) ([]byte, error) {
	srcC := append([]byte(src), 0)
	nameC := append([]byte(name), 0)
	var prog uintptr
	if err := n.check("nvrtcCreateProgram", n.nvrtcCreateProgram(&prog, &srcC[0], &nameC[0], 0, nil, nil)); err != nil {
		return nil, err
	}
	defer n.nvrtcDestroyProgram(&prog)

	opts := newCStringArray(options)
	code := n.nvrtcCompileProgram(prog, int32(len(options)), opts.ptr())
	opts.free()
	if code != 0 {
		e := &Error{Call: "nvrtcCompileProgram", Code: int(code), Name: n.nvrtcGetErrorString(code)}
		e.Log = n.log(prog)
		return nil, e
	}
	var size uint64
	if err := n.check("nvrtcGetPTXSize", n.nvrtcGetPTXSize(prog, &size)); err != nil {
		return nil, err
	}
	if size == 0 {
		return nil, &Error{Call: "nvrtcGetPTXSize", Name: "empty PTX"}
	}
	ptx := make([]byte, size) // includes the terminating NUL
	if err := n.check("nvrtcGetPTX", n.nvrtcGetPTX(prog, &ptx[0])); err != nil {
		return nil, err
	}
	return ptx, nil
}

// log returns the program's compilation log, or "" if it cannot be read.
func (n *nvrtcAPI) log(prog uintptr) string {
	var size uint64
	if n.nvrtcGetProgramLogSize(prog, &size) != 0 || size <= 1 {
		return ""
	}
	buf := make([]byte, size)
	if n.nvrtcGetProgramLog(prog, &buf[0]) != 0 {
		return ""
	}
	return strings.TrimRight(string(buf), "\x00\n ")
}
