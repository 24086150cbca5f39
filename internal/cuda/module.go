package cuda

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/paretodiff/paretodiff/internal/atomicfile"
)

//go:embed kernels/prelude.cuh kernels/*.cu
var kernelFS embed.FS

// preludeFile is prepended to the kernel files; see kernels/prelude.cuh.
const preludeFile = "kernels/prelude.cuh"

var kernelSource = sync.OnceValue(func() string {
	files, err := fs.Glob(kernelFS, "kernels/*.cu")
	if err != nil {
		panic(err)
	}
	slices.Sort(files)
	var b strings.Builder
	for _, f := range append([]string{preludeFile}, files...) {
		data, err := kernelFS.ReadFile(f)
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(&b, "// ---- %s ----\n", f)
		b.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.String()
})

// KernelSource returns the CUDA C translation unit that NVRTC compiles:
// kernels/prelude.cuh followed by every kernels/*.cu file in name order.
func KernelSource() string { return kernelSource() }

// nvrtcOptions are the compile options besides the architecture: C++17,
// no fast-math (expf, tanhf, erff, sinf, cosf keep their full accuracy),
// fused multiply-add allowed (NVRTC's default).
var nvrtcOptions = []string{"--std=c++17", "--fmad=true"}

// module is a device's compiled kernels.
type module struct {
	handle uintptr            // CUmodule
	funcs  map[string]uintptr // kernel name → CUfunction
	arch   int                // the virtual architecture compiled for
	nvrtc  string             // NVRTC version, "" when loaded from the disk cache
	cached bool               // the PTX came from the disk cache
}

// ptxCacheKey identifies one compilation: the source, the options and the
// NVRTC version. It names the cache file.
func ptxCacheKey(src string, options []string, nvrtcVersion string) string {
	h := sha256.New()
	for _, part := range append([]string{src, nvrtcVersion}, options...) {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// cacheDir is the on-disk PTX cache folder, or "" when it is off or no
// user cache folder exists.
func (d *Device) cacheDir() string {
	if d.opts.NoDiskCache {
		return ""
	}
	if d.opts.CacheDir != "" {
		return d.opts.CacheDir
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "paretodiff", "cuda-ptx")
}

// loadModule compiles the kernels for this device (or reads them from the
// disk cache) and loads them. It runs on the worker.
func (d *Device) loadModule() (*module, error) {
	if d.mod != nil {
		return d.mod, nil
	}
	n, err := d.libs.nvrtc()
	if err != nil {
		return nil, err
	}
	version, err := n.version()
	if err != nil {
		return nil, err
	}
	supported, err := n.supportedArchs()
	if err != nil {
		return nil, err
	}
	arch, ok := chooseArch(d.info.Arch(), supported)
	if !ok {
		return nil, fmt.Errorf("cuda: NVRTC %s (%s) cannot compile for sm_%d (it supports %v)", version, n.path, d.info.Arch(), supported)
	}
	options := append([]string{fmt.Sprintf("--gpu-architecture=compute_%d", arch)}, nvrtcOptions...)
	src := KernelSource()
	key := ptxCacheKey(src, options, version)
	dir := d.cacheDir()
	var path string
	if dir != "" {
		path = filepath.Join(dir, "kernels-"+key+".ptx")
	}

	m := &module{funcs: map[string]uintptr{}, arch: arch, nvrtc: version}
	if path != "" {
		if ptx, err := os.ReadFile(path); err == nil && len(ptx) > 0 && ptx[len(ptx)-1] == 0 {
			if h, err := d.moduleLoad(ptx); err == nil {
				m.handle, m.cached = h, true
				d.mod = m
				return m, nil
			}
			// A damaged or stale file: compile again and overwrite it.
		}
	}
	ptx, err := n.compile(src, "paretodiff_kernels.cu", options)
	if err != nil {
		return nil, err
	}
	h, err := d.moduleLoad(ptx)
	if err != nil {
		if e, ok := err.(*Error); ok && e.Name == "CUDA_ERROR_UNSUPPORTED_PTX_VERSION" {
			e.Desc += fmt.Sprintf("; NVRTC %s (%s) is newer than the driver (CUDA %d.%d): use the toolkit matching the driver, e.g. via CUDA_HOME",
				version, n.path, d.info.Driver/1000, d.info.Driver%1000/10)
		}
		return nil, err
	}
	m.handle = h
	if path != "" {
		// The cache is an optimisation: failing to write it is not an error.
		if os.MkdirAll(dir, 0o755) == nil {
			_ = atomicfile.WriteBytes(path, ptx)
		}
	}
	d.mod = m
	return m, nil
}

// moduleLoad loads NUL-terminated PTX into the current context.
func (d *Device) moduleLoad(ptx []byte) (uintptr, error) {
	var h uintptr
	if err := d.drv.check("cuModuleLoadData", d.drv.cuModuleLoadData(&h, unsafe.Pointer(&ptx[0]))); err != nil {
		return 0, err
	}
	return h, nil
}

// function returns the kernel called name, compiling the kernels on first
// use. It runs on the worker.
func (d *Device) function(name string) (uintptr, error) {
	m, err := d.loadModule()
	if err != nil {
		return 0, err
	}
	if f, ok := m.funcs[name]; ok {
		return f, nil
	}
	var f uintptr
	if err := d.drv.check("cuModuleGetFunction("+name+")", d.drv.cuModuleGetFunction(&f, m.handle, name)); err != nil {
		return 0, err
	}
	m.funcs[name] = f
	return f, nil
}

// KernelInfo says how the device's kernels were obtained: the virtual
// architecture, the NVRTC version and whether the PTX came from the disk
// cache. It compiles them if that has not happened yet.
func (d *Device) KernelInfo() (arch int, nvrtcVersion string, fromCache bool, err error) {
	err = d.Do(func() error {
		m, err := d.loadModule()
		if err != nil {
			return err
		}
		arch, nvrtcVersion, fromCache = m.arch, m.nvrtc, m.cached
		return nil
	})
	return
}

// Dim3 is a grid or block shape.
type Dim3 struct{ X, Y, Z uint32 }

// Launch runs kernel name with the given grid and block shapes, dynamic
// shared memory bytes and parameters, on the device's stream. It checks
// args against the kernel's known signature (see kernelSpecs) and panics
// on a mismatch, a programmer error that would otherwise corrupt memory.
// The launch is asynchronous: errors inside the kernel show at the next
// synchronising call (CopyToHost, Synchronize).
func (d *Device) Launch(name string, grid, block Dim3, shared uint32, args *KernelArgs) error {
	spec, ok := kernelSpecs[name]
	if !ok {
		panic(fmt.Sprintf("cuda: unknown kernel %q", name))
	}
	if !slices.Equal(spec, args.kinds) {
		panic(fmt.Sprintf("cuda: kernel %s takes %s, called with %s", name, signature(spec), signature(args.kinds)))
	}
	if grid.X == 0 || grid.Y == 0 || grid.Z == 0 || block.X == 0 || block.Y == 0 || block.Z == 0 {
		panic(fmt.Sprintf("cuda: kernel %s launched with grid %v, block %v", name, grid, block))
	}
	return d.Do(func() error {
		f, err := d.function(name)
		if err != nil {
			return err
		}
		p := args.pack()
		code := d.drv.cuLaunchKernel(f, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, shared, d.stream, p.ptr(), nil)
		p.unpin(args)
		return d.drv.check("cuLaunchKernel("+name+")", code)
	})
}
