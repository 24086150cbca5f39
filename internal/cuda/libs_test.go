package cuda

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeTree creates empty files (paths relative to a temporary root) and
// returns the root and a searchEnv whose glob sees only that tree: absolute
// patterns are rewritten under the root, and results mapped back.
func fakeTree(t *testing.T, vars map[string]string, files ...string) (string, searchEnv) {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, f)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, nil, 0o644))
	}
	env := searchEnv{
		getenv: func(k string) string { return vars[k] },
		glob: func(pattern string) ([]string, error) {
			m, err := filepath.Glob(filepath.Join(globEscape(root), pattern))
			for i := range m {
				m[i] = strings.TrimPrefix(m[i], root)
			}
			return m, err
		},
		goarch: "amd64",
	}
	return root, env
}

func TestLibCandidatesOrder(t *testing.T) {
	_, env := fakeTree(t,
		map[string]string{"CUDA_HOME": "/opt/cuda", "LD_LIBRARY_PATH": "/extra/lib::/usr/local/cuda/lib64"},
		"/opt/cuda/lib64/libnvrtc.so.12",
		"/opt/cuda/lib64/libnvrtc-builtins.so.12", // another library, same prefix
		"/extra/lib/libnvrtc.so.11.2",
		"/extra/lib/libnvrtc.so.12.0.76",
		"/extra/lib/libnvrtc.so.12.10.1",
		"/extra/lib/libnvrtc.so.12.alt", // not a version
		"/usr/local/cuda/lib64/libnvrtc.so",
		"/usr/local/cuda/lib64/libnvrtc.so.13",
		"/usr/local/cuda-12.4/lib64/libnvrtc.so.12",
		"/usr/local/cuda-12.10/lib64/libnvrtc.so.12",
		"/usr/local/cuda-9.2/lib64/libnvrtc.so.9.2",
		"/usr/lib/x86_64-linux-gnu/libnvrtc.so.12",
		"/usr/local/lib/python3.12/dist-packages/nvidia/cu13/lib/libnvrtc.so.13",
		"/usr/local/lib/python3.12/dist-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.12",
	)
	got := libCandidates("libnvrtc.so", env)
	want := []string{
		"/opt/cuda/lib64/libnvrtc.so.12",
		"/extra/lib/libnvrtc.so.12.10.1",
		"/extra/lib/libnvrtc.so.12.0.76",
		"/extra/lib/libnvrtc.so.11.2",
		"/usr/local/cuda/lib64/libnvrtc.so",
		"/usr/local/cuda/lib64/libnvrtc.so.13",
		"/usr/local/cuda-12.10/lib64/libnvrtc.so.12",
		"/usr/local/cuda-12.4/lib64/libnvrtc.so.12",
		"/usr/local/cuda-9.2/lib64/libnvrtc.so.9.2",
		"/usr/lib/x86_64-linux-gnu/libnvrtc.so.12",
		"/usr/local/lib/python3.12/dist-packages/nvidia/cu13/lib/libnvrtc.so.13",
		"/usr/local/lib/python3.12/dist-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.12",
		"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11",
	}
	require.Equal(t, want, got)
}

func TestLibCandidatesEmptySystem(t *testing.T) {
	_, env := fakeTree(t, nil)
	require.Equal(t, []string{"libcublas.so", "libcublas.so.13", "libcublas.so.12", "libcublas.so.11"},
		libCandidates("libcublas.so", env))
}

func TestSearchDirs(t *testing.T) {
	_, env := fakeTree(t, map[string]string{"CUDA_PATH": "/c", "LD_LIBRARY_PATH": "/a:/c/lib64"}, "/usr/local/cuda-13.0/lib64/x")
	env.goarch = "arm64"
	require.Equal(t, []string{"/c/lib64", "/c/lib", "/a", "/usr/local/cuda/lib64", "/usr/local/cuda-13.0/lib64",
		"/usr/lib/aarch64-linux-gnu", "/usr/lib64"}, searchDirs(env))
}

func TestVersions(t *testing.T) {
	for _, c := range []struct {
		s  string
		ok bool
	}{{"13", true}, {"12.8.93", true}, {"", false}, {"12.", false}, {"12.alt", false}, {".1", false}} {
		require.Equal(t, c.ok, isVersion(c.s), c.s)
	}
	for _, c := range []struct {
		a, b string
		want int
	}{{"12.10", "12.9", 1}, {"12", "12.0", -1}, {"13.0", "12.8", 1}, {"12.4", "12.4", 0}, {"11.8", "12", -1}} {
		require.Equal(t, c.want, compareVersions(c.a, c.b), "%s vs %s", c.a, c.b)
	}
}

func TestOpenFirst(t *testing.T) {
	var tried []string
	open := func(p string) (uintptr, error) {
		tried = append(tried, p)
		if p == "c" {
			return 42, nil
		}
		return 0, errors.New(p + ": cannot open shared object file")
	}
	h, path, err := openFirst([]string{"a", "b", "c", "d"}, open)
	require.NoError(t, err)
	require.Equal(t, uintptr(42), h)
	require.Equal(t, "c", path)
	require.Equal(t, []string{"a", "b", "c"}, tried)

	_, _, err = openFirst([]string{"a", "b"}, open)
	require.EqualError(t, err, "a: cannot open shared object file", "the first candidate's message is kept")
}

func TestMissingToolkitErrors(t *testing.T) {
	_, env := fakeTree(t, nil)
	fail := func(p string) (uintptr, error) { return 0, errors.New(p + ": cannot open shared object file") }

	_, err := loadNVRTC(env, fail)
	require.ErrorIs(t, err, ErrNoNVRTC)
	require.NotContains(t, err.Error(), "\n")
	require.Contains(t, err.Error(), "cuda: NVRTC not found: libnvrtc.so: searched $CUDA_HOME")

	_, err = loadCUBLAS(env, fail)
	require.ErrorIs(t, err, ErrNoCUBLAS)
	require.NotContains(t, err.Error(), "\n")
}

func TestChooseArch(t *testing.T) {
	for _, c := range []struct {
		dev       int
		supported []int
		want      int
		ok        bool
	}{
		{90, nil, 90, true},
		{90, []int{75, 80, 86, 89, 90}, 90, true},
		{100, []int{75, 80, 86, 89, 90}, 90, true}, // a GPU newer than NVRTC: PTX for the newest it knows
		{86, []int{75, 80, 90}, 80, true},
		{70, []int{75, 80}, -1, false},
	} {
		got, ok := chooseArch(c.dev, c.supported)
		require.Equal(t, c.ok, ok, "%+v", c)
		if ok {
			require.Equal(t, c.want, got, "%+v", c)
		}
	}
}
