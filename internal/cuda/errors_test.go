package cuda

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestErrorMessage(t *testing.T) {
	cases := []struct {
		name string
		err  *Error
		want string
	}{
		{"driver", &Error{Call: "cuMemAlloc_v2", Code: 2, Name: "CUDA_ERROR_OUT_OF_MEMORY", Desc: "out of memory"},
			"cuda: cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (out of memory)"},
		{"no description", &Error{Call: "nvrtcCreateProgram", Code: 3, Name: "NVRTC_ERROR_INVALID_INPUT"},
			"cuda: nvrtcCreateProgram: NVRTC_ERROR_INVALID_INPUT"},
		{"description equal to the name", &Error{Call: "cublasSgemm_v2", Code: 7, Name: "CUBLAS_STATUS_INVALID_VALUE", Desc: "CUBLAS_STATUS_INVALID_VALUE"},
			"cuda: cublasSgemm_v2: CUBLAS_STATUS_INVALID_VALUE"},
		{"unknown status", &Error{Call: "cuInit", Code: 12345},
			"cuda: cuInit: status 12345"},
		{"compilation log on one line", &Error{Call: "nvrtcCompileProgram", Code: 6, Name: "NVRTC_ERROR_COMPILATION",
			Log: "k.cu(3): error: identifier \"x\" is undefined\n\n1 error detected in the compilation of \"k.cu\".\n"},
			`cuda: nvrtcCompileProgram: NVRTC_ERROR_COMPILATION: k.cu(3): error: identifier "x" is undefined | 1 error detected in the compilation of "k.cu".`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, c.err.Error())
		})
	}
}

func TestErrorLogIsCut(t *testing.T) {
	e := &Error{Call: "nvrtcCompileProgram", Name: "NVRTC_ERROR_COMPILATION", Log: strings.Repeat("é error line\n", 1000)}
	msg := e.Error()
	require.NotContains(t, msg, "\n")
	require.Less(t, len(msg), maxLogChars+200)
	require.True(t, strings.HasSuffix(msg, "…"))
	require.True(t, strings.ToValidUTF8(msg, "?") == msg, "cut inside a UTF-8 sequence")
}

func TestLoadErrorWrapsSentinel(t *testing.T) {
	for _, s := range []error{ErrNoDriver, ErrNoNVRTC, ErrNoCUBLAS} {
		err := error(&loadError{s, "detail"})
		require.True(t, errors.Is(err, s))
		require.Equal(t, s.Error()+": detail", err.Error())
	}
}

func TestDriverErrorNamesWithoutLibrary(t *testing.T) {
	// With no driver to ask, the built-in table names the status.
	var d *driverAPI
	require.Equal(t, "cuda: cuLaunchKernel: CUDA_ERROR_ILLEGAL_ADDRESS", d.error("cuLaunchKernel", 700).Error())
	require.NoError(t, d.check("cuInit", 0))
}
