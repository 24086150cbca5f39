package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/export"
	"github.com/paretodiff/paretodiff/run"
	"github.com/spf13/cobra"
)

func init() { register(newExportCmd) }

type exportOptions struct {
	checkpoint, format, out string
	ema                     bool
}

func newExportCmd() *cobra.Command {
	o := &exportOptions{}
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write a trained model's weights as a safetensors file, for PyTorch (python/paretodiff_torch/twins.py)",
		Long: `export writes the weights of the run in --checkpoint (its EMA weights, as sample
uses, or --ema=false: the raw ones) as a safetensors file: the layout of Hugging Face's
format (a little-endian u64 header length, a JSON header with each tensor's dtype,
shape and data_offsets and "__metadata__", then the raw little-endian data), which
safetensors.torch.load_file reads, and which the PyTorch twin
(python/paretodiff_torch/twins.py: from_safetensors, a ResMLPTwin or a DiTTwin) loads
without the safetensors package and predicts with as the Go model does.

` + export.NamingHelp,
		Example: `  paretodiff export --checkpoint runs/toy --out runs/toy/model.safetensors
  paretodiff export --checkpoint runs/toy --ema=false --format safetensors`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.checkpoint, "checkpoint", "", "the trained run's folder (or its checkpoint.bin); required")
	f.StringVar(&o.format, "format", "safetensors", "output format: safetensors")
	f.StringVar(&o.out, "out", "", "output file (default: model.safetensors in the run's folder)")
	f.BoolVar(&o.ema, "ema", true, "export the EMA weights (--ema=false: the raw weights)")
	return cmd
}

func (o *exportOptions) run(stdout io.Writer) error {
	if o.checkpoint == "" {
		return usagef("--checkpoint: give the trained run's folder")
	}
	if o.format != "safetensors" {
		return usagef("--format %q: want safetensors", o.format)
	}
	r, err := run.Open(o.checkpoint)
	if err != nil {
		return usagef("--checkpoint: %v", err)
	}
	ck, err := r.Checkpoint()
	if err != nil {
		return usagef("--checkpoint: %v", err)
	}
	m, err := export.FromCheckpoint(ck, o.ema)
	if err != nil {
		return usagef("--checkpoint: %v", err)
	}
	out := o.out
	if out == "" {
		out = filepath.Join(filepath.Dir(r.CheckpointPath()), "model.safetensors")
	}
	if dir := filepath.Dir(out); dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return usagef("--out %s: its folder %s does not exist", out, dir)
		}
	}
	if err := m.WriteSafetensors(out); err != nil {
		return failure(err)
	}
	net := nn.Spec{Kind: m.Meta.Kind, ResMLP: m.Meta.ResMLP, DiT: m.Meta.DiT}
	fmt.Fprintf(stdout, "exported the %s weights of step %d (%s-prediction %s, %d tensors) to %s\n",
		m.Meta.Weights, m.Meta.Step, m.Meta.Target, describeNet(net), len(m.Tensors), out)
	return nil
}
