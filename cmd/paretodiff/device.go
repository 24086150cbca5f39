package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/cuda"
	"github.com/paretodiff/paretodiff/internal/cuda/nncuda" // registers nn's "cuda" backend
	"github.com/spf13/cobra"
)

// deviceHelp is the --device flag's description, shared by every command
// that trains, samples or measures.
const deviceHelp = "compute device: cpu, cuda (the first NVIDIA GPU, loaded at run time; an error if none is usable) or auto (cuda when usable, else cpu)"

// addDeviceFlag registers --device (default cpu) on a command.
func addDeviceFlag(cmd *cobra.Command, device *string) {
	cmd.Flags().StringVar(device, "device", "cpu", deviceHelp)
}

// newCUDA opens the GPU backend; tests substitute the emulator.
var newCUDA = nncuda.New

// openDevice returns the nn backend for a --device value. "cuda" without a
// usable driver, NVRTC or cuBLAS is a one-line usage error (exit 2) that
// says so; "auto" then falls back to the CPU. For cuda and auto it writes
// the device it uses to log as one line ("device: cuda:0 NVIDIA H100 ..."
// or "device: cpu (no usable GPU: ...)").
func openDevice(device string, log io.Writer) (nn.Backend, error) {
	switch device {
	case "cpu":
		return nn.NewCPU(), nil
	case "cuda", "auto":
		be, err := newCUDA()
		if err == nil {
			fmt.Fprintf(log, "device: %s\n", be)
			return be, nil
		}
		if device == "auto" {
			fmt.Fprintf(log, "device: cpu (no usable GPU: %v)\n", err)
			return nn.NewCPU(), nil
		}
		if errors.Is(err, cuda.ErrNoDriver) || errors.Is(err, cuda.ErrNoNVRTC) || errors.Is(err, cuda.ErrNoCUBLAS) {
			return nil, usagef("--device cuda: %v", err)
		}
		return nil, failure(fmt.Errorf("--device cuda: %w", err))
	}
	return nil, usagef("--device %q: want cpu, cuda or auto", device)
}
