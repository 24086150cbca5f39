package cuda

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNoDriverErrorIsOneLine(t *testing.T) {
	fail := func(p string) (uintptr, error) {
		return 0, errors.New(p + ": cannot open shared object file: No such file or directory")
	}
	_, err := loadDriver(fail)
	require.ErrorIs(t, err, ErrNoDriver)
	require.EqualError(t, err, "cuda: no usable CUDA driver: libcuda.so.1 not found (is an NVIDIA driver installed?)")

	odd := func(p string) (uintptr, error) {
		return 0, errors.New("libcuda.so.1: wrong ELF class: ELFCLASS32\nmore")
	}
	_, err = loadDriver(odd)
	require.ErrorIs(t, err, ErrNoDriver)
	require.EqualError(t, err, "cuda: no usable CUDA driver: cannot load libcuda.so.1: libcuda.so.1: wrong ELF class: ELFCLASS32 | more")
}

// TestWithoutGPU runs only where no driver loads (CI, this project's
// development machines): every entry point returns the one-line
// ErrNoDriver error, again on a second try, and nothing panics.
func TestWithoutGPU(t *testing.T) {
	if Available() == nil {
		t.Skip("a CUDA driver and device are present")
	}
	for range 2 { // a failed load is not cached: the second call tries again
		err := Available()
		require.ErrorIs(t, err, ErrNoDriver)
		require.NotContains(t, err.Error(), "\n")
		require.True(t, strings.HasPrefix(err.Error(), "cuda: no usable CUDA driver: "), err.Error())

		_, err = DeviceCount()
		require.ErrorIs(t, err, ErrNoDriver)
		_, err = DriverVersion()
		require.ErrorIs(t, err, ErrNoDriver)
		d, err := Open(0, Options{})
		require.ErrorIs(t, err, ErrNoDriver)
		require.Nil(t, d)
	}
}
