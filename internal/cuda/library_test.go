package cuda

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenLibrariesBinding checks the seam's binding rules without a
// device: an absent symbol is missing, as from a shared library, and a
// function of the wrong type panics, naming the symbol.
func TestOpenLibrariesBinding(t *testing.T) {
	none := Library{Name: "libnone.so"}
	_, err := OpenLibraries(none, none, none, 0, Options{})
	require.ErrorIs(t, err, ErrNoDriver)
	require.ErrorContains(t, err, "cuda: no usable CUDA driver: libnone.so lacks cuInit, cuDriverGetVersion, ")
	require.ErrorContains(t, err, "(the NVIDIA driver is too old)")

	_, err = bindNVRTC(none.symbols())
	require.ErrorIs(t, err, ErrNoNVRTC)
	_, err = bindCUBLAS(none.symbols())
	require.ErrorIs(t, err, ErrNoCUBLAS)

	wrong := Library{Name: "libwrong.so", Funcs: map[string]any{"cuInit": func(flags int32) int32 { return 0 }}}
	require.PanicsWithValue(t, "cuda: libwrong.so: cuInit is a func(int32) int32, want a func(uint32) int32", func() {
		_, _ = OpenLibraries(wrong, none, none, 0, Options{})
	})

	// The second of two names is bound when the first is absent.
	var release func(dev int32) int32
	s := Library{Name: "liba.so", Funcs: map[string]any{"cuDevicePrimaryCtxRelease": func(int32) int32 { return 7 }}}.symbols()
	require.True(t, s.bind(&release, true, "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"))
	require.Equal(t, int32(7), release(0))
	require.Empty(t, s.missing)
}
