package cuda

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ebitengine/purego"
)

// Library names. The driver is found by the system loader (ld.so.cache,
// LD_LIBRARY_PATH) under its soname; the toolkit libraries are searched
// for in the usual CUDA places (see libCandidates).
const (
	driverLib = "libcuda.so.1"
	nvrtcLib  = "libnvrtc.so"
	cublasLib = "libcublas.so"
)

// toolkitMajors are the CUDA major versions whose versioned sonames
// (libnvrtc.so.13, ...) are tried last, through the system loader.
var toolkitMajors = []int{13, 12, 11}

// searchEnv is what the library search reads from the system, replaceable
// in tests by fake directories and variables.
type searchEnv struct {
	getenv func(string) string
	glob   func(pattern string) ([]string, error)
	goarch string
}

func systemSearchEnv() searchEnv {
	return searchEnv{getenv: os.Getenv, glob: filepath.Glob, goarch: runtime.GOARCH}
}

// searchDirs lists, in order, the directories searched for a toolkit
// library: $CUDA_HOME/lib64 (and lib), $CUDA_PATH/lib64 (and lib), each
// $LD_LIBRARY_PATH entry, /usr/local/cuda/lib64, /usr/local/cuda-*/lib64
// (newest version first), the distribution's multiarch directory
// (/usr/lib/x86_64-linux-gnu on amd64) and /usr/lib64, then the library
// folders of pip's NVIDIA wheels. Duplicates are dropped.
func searchDirs(env searchEnv) []string {
	var dirs []string
	for _, v := range []string{"CUDA_HOME", "CUDA_PATH"} {
		if root := env.getenv(v); root != "" {
			dirs = append(dirs, filepath.Join(root, "lib64"), filepath.Join(root, "lib"))
		}
	}
	for _, d := range filepath.SplitList(env.getenv("LD_LIBRARY_PATH")) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	dirs = append(dirs, "/usr/local/cuda/lib64")
	if versioned, err := env.glob("/usr/local/cuda-*"); err == nil {
		slices.SortStableFunc(versioned, func(a, b string) int {
			return compareVersions(strings.TrimPrefix(filepath.Base(b), "cuda-"), strings.TrimPrefix(filepath.Base(a), "cuda-"))
		})
		for _, v := range versioned {
			dirs = append(dirs, filepath.Join(v, "lib64"))
		}
	}
	switch env.goarch {
	case "amd64":
		dirs = append(dirs, "/usr/lib/x86_64-linux-gnu")
	case "arm64":
		dirs = append(dirs, "/usr/lib/aarch64-linux-gnu")
	}
	dirs = append(dirs, "/usr/lib64")
	for _, pattern := range []string{
		"/usr/local/lib/python3*/dist-packages/nvidia/*/lib",
		"/usr/lib/python3/dist-packages/nvidia/*/lib",
	} {
		if found, err := env.glob(pattern); err == nil {
			// CUDA 13 wheels use nvidia/cu13/lib, CUDA 12 ones
			// nvidia/cuda_nvrtc/lib, nvidia/cublas/lib: newest first.
			slices.SortStableFunc(found, func(a, b string) int {
				if c := cmp.Compare(wheelMajor(b), wheelMajor(a)); c != 0 {
					return c
				}
				return strings.Compare(a, b)
			})
			dirs = append(dirs, found...)
		}
	}
	return dedupe(dirs)
}

// wheelMajor is N for a pip wheel folder .../nvidia/cuN/lib, else 0.
func wheelMajor(dir string) int {
	name := filepath.Base(filepath.Dir(dir))
	if n, err := strconv.Atoi(strings.TrimPrefix(name, "cu")); err == nil && strings.HasPrefix(name, "cu") {
		return n
	}
	return 0
}

// libCandidates lists what to hand to dlopen, in order, for the toolkit
// library base (e.g. "libnvrtc.so"): in each of searchDirs, the unversioned
// file and then every versioned one (base.13, base.12.8.93, ...) newest
// first, as far as they exist; finally the bare names base and base.N for
// N in toolkitMajors, left to the system loader.
func libCandidates(base string, env searchEnv) []string {
	var out []string
	for _, dir := range searchDirs(env) {
		var versioned []string
		matches, _ := env.glob(filepath.Join(globEscape(dir), globEscape(base)+"*"))
		for _, m := range matches {
			name := filepath.Base(m)
			switch {
			case name == base:
				out = append(out, m)
			case strings.HasPrefix(name, base+".") && isVersion(name[len(base)+1:]):
				versioned = append(versioned, m)
			}
		}
		slices.SortStableFunc(versioned, func(a, b string) int {
			return compareVersions(filepath.Base(b)[len(base)+1:], filepath.Base(a)[len(base)+1:])
		})
		out = append(out, versioned...)
	}
	out = append(out, base)
	for _, major := range toolkitMajors {
		out = append(out, base+"."+strconv.Itoa(major))
	}
	return dedupe(out)
}

// driverCandidates lists what to hand to dlopen for the driver: its soname,
// the development name, and the WSL location. The driver is never searched
// for in toolkit folders, whose lib64/stubs/libcuda.so is a link-time stub.
func driverCandidates() []string {
	return []string{driverLib, "libcuda.so", "/usr/lib/wsl/lib/libcuda.so.1"}
}

// isVersion reports whether s is a dotted list of decimal numbers ("13",
// "12.8.93").
func isVersion(s string) bool {
	if s == "" {
		return false
	}
	for _, f := range strings.Split(s, ".") {
		if f == "" {
			return false
		}
		if _, err := strconv.Atoi(f); err != nil {
			return false
		}
	}
	return true
}

// compareVersions compares dotted versions numerically field by field
// ("12.10" > "12.9"); a non-numeric field compares as text.
func compareVersions(a, b string) int {
	fa, fb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(fa) && i < len(fb); i++ {
		na, ea := strconv.Atoi(fa[i])
		nb, eb := strconv.Atoi(fb[i])
		if ea == nil && eb == nil {
			if c := cmp.Compare(na, nb); c != 0 {
				return c
			}
			continue
		}
		if c := strings.Compare(fa[i], fb[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(fa), len(fb))
}

func dedupe(xs []string) []string {
	seen := make(map[string]bool, len(xs))
	out := xs[:0:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// globEscape quotes the glob metacharacters of a literal path.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// dlopenFunc opens a shared library; purego.Dlopen, or a fake in tests.
type dlopenFunc func(path string) (uintptr, error)

// openFirst dlopens the first candidate that loads and returns its handle
// and name. When none loads it returns the loader's message for the first
// candidate (the most telling one: usually "cannot open shared object
// file") in err.
func openFirst(candidates []string, open dlopenFunc) (handle uintptr, path string, err error) {
	var first error
	for _, c := range candidates {
		h, err := open(c)
		if err == nil {
			return h, c, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = fmt.Errorf("no candidates")
	}
	return 0, "", first
}

// symbols binds C functions of one library to Go function variables.
type symbols struct {
	name    string // the library, for messages
	lookup  binder
	missing []string // required symbols not found
}

// A binder points fptr (a pointer to a Go func variable) at the library's
// function symbol and reports whether the library has it.
type binder func(fptr any, symbol string) bool

// dlsymBinder binds the symbols of a shared library opened with dlopen,
// through purego.
func dlsymBinder(lib uintptr) binder {
	return func(fptr any, symbol string) bool {
		sym, err := dlsym(lib, symbol)
		if err != nil || sym == 0 {
			return false
		}
		purego.RegisterFunc(fptr, sym)
		return true
	}
}

// bind points fptr (a pointer to a Go func variable) at the first of names
// the library exports; a required symbol that is absent is recorded in
// missing, an optional one leaves *fptr nil. It reports whether one was bound.
func (s *symbols) bind(fptr any, required bool, names ...string) bool {
	for _, n := range names {
		if s.lookup(fptr, n) {
			return true
		}
	}
	if required {
		s.missing = append(s.missing, names[0])
	}
	return false
}

// err is the one-line error for missing required symbols, wrapping sentinel.
func (s *symbols) err(sentinel error, hint string) error {
	if len(s.missing) == 0 {
		return nil
	}
	return &loadError{sentinel, fmt.Sprintf("%s lacks %s (%s)", s.name, strings.Join(s.missing, ", "), hint)}
}

// lazyLib loads a library on first use. A failure is not remembered, so a
// later call tries again (for example after the user fixed CUDA_HOME); a
// success is kept for the life of the process.
type lazyLib[T any] struct {
	mu   sync.Mutex
	lib  *T
	load func() (*T, error)
}

func (l *lazyLib[T]) get() (*T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lib != nil {
		return l.lib, nil
	}
	lib, err := l.load()
	if err != nil {
		return nil, err
	}
	l.lib = lib
	return lib, nil
}
