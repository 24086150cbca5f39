package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/paretodiff/paretodiff/run"
	"github.com/spf13/cobra"
)

func init() { register(newReproduceCmd) }

type reproduceOptions struct {
	scale, model, device, out, models, mnistDir string
	seed                                        uint64
	quiet, cachedOnly                           bool
}

func newReproduceCmd() *cobra.Command {
	o := &reproduceOptions{}
	var list strings.Builder
	for _, t := range reproduce.Targets() {
		fmt.Fprintf(&list, "  %-9s %s\n", t.Name, t.Title)
	}
	fmt.Fprintf(&list, "  %-9s every target above, then an index (OUT/index.md)\n", "all")
	cmd := &cobra.Command{
		Use:   "reproduce NAME... [--scale quick|paper] [--out DIR]",
		Short: "Reproduce the paper's figures and tables, each with a report that compares our numbers with the paper's",
		Long: `reproduce runs the paper's analyses (Hang et al., ICCV 2023) and writes, for each
target NAME, OUT/NAME/ with figures (PNG), the numbers behind them (CSV) and report.md:
the paper's claim, our measurement, and whether they agree, decided from the numbers.

Targets:
` + list.String() + `
Scales (--scale): smoke (seconds; for tests, shows nothing), quick (toy 2-D data on the CPU,
a few minutes per target on 2 cores), medium (MNIST with a small MLP on the CPU, under
90 minutes for all on 2 cores, 5 seeds for the primary comparisons), paper (MNIST, larger
networks, more steps; meant for a GPU, --device cuda). The sizes of each scale are printed in every report.

--model dit or dit-s (with --scale medium or paper, whose data are images) trains every
model as a DiT of the train command's preset instead of the ResMLP, with the scale's data,
steps and evaluation; the smoke scale's DiT is tiny, and the quick scale's toy data has
no images. A DiT's models are other runs of the cache (their labels start with dit_).

Trained models are cached in OUT/models/ by their full configuration and reused: fig5,
fig6 and table2 share models, fig3 analyses one of them, fig4 and conflict share one
probed training run, and a second run with the same settings trains nothing.
An interrupted run (Ctrl-C) keeps its checkpoints and resumes where it stopped; files are
written atomically, so none is ever half-written. The same --seed gives the same CSVs.

On many machines (the paper scale): "reproduce plan" lists the runs the targets train,
"reproduce train-one" trains one of them into a shared model cache (one task of a job
array), and "reproduce NAME... --cached-only" then only analyses. Processes sharing the
cache take turns on each run (a lock file beside its folder). The Slurm job array
scripts/slurm/reproduce-array.sbatch and the Kubernetes Indexed Job
deploy/k8s/reproduce-indexed-job.yaml do this.`,
		Example: `  paretodiff reproduce weights --out repro
  paretodiff reproduce fig2 fig5 --scale quick --out repro
  paretodiff reproduce all --scale paper --device cuda --out repro-paper
  paretodiff reproduce all --scale medium --model dit --out repro-medium-dit`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.scale, "scale", "quick", "size of the runs: smoke, quick, medium or paper")
	addModelFlag(cmd, &o.model)
	addDeviceFlag(cmd, &o.device)
	f.StringVar(&o.out, "out", "reproduce-out", "output folder (one subfolder per target, models/ for the model cache)")
	f.Uint64Var(&o.seed, "seed", 1, "random seed of every model, batch and sample")
	f.StringVar(&o.mnistDir, "mnist-dir", "", "folder with the MNIST IDX files for --scale paper (default: the GoMNIST module in the Go module cache, or $"+data.MNISTEnv+")")
	f.StringVar(&o.models, "models", "", "the model cache (default OUT/models), shared with train-one")
	f.BoolVar(&o.cachedOnly, "cached-only", false, "train nothing: a run missing from the model cache is an error (the analysis after a sweep)")
	f.BoolVar(&o.quiet, "quiet", false, "print only the summary, no progress lines")
	cmd.AddCommand(newReproducePlanCmd(), newReproduceTrainOneCmd())
	return cmd
}

// setUpEnv completes the Env of reproduce and demo: it creates the output
// folder out, opens the device, sends progress to stderr unless quiet, and
// returns a context that Ctrl-C and SIGTERM cancel (so that models keep
// their last checkpoint) with the function that releases it.
func setUpEnv(ctx context.Context, env *reproduce.Env, out, device string, quiet bool, stderr io.Writer) (context.Context, context.CancelFunc, error) {
	if out == "" {
		return nil, nil, usagef("--out: give an output folder")
	}
	be, err := openDevice(device, stderr)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, nil, usagef("--out: %v", err)
	}
	env.Backend, env.Out = be, out
	if !quiet {
		env.Log = stderr
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := run.NotifyContext(ctx)
	return ctx, stop, nil
}

func (o *reproduceOptions) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	targets, err := reproduce.Resolve(args)
	if err != nil {
		return usagef("%v", err)
	}
	scale, err := reproduce.ParseScale(o.scale)
	if err != nil {
		return usagef("--scale: %v", err)
	}
	env := &reproduce.Env{Scale: scale, Model: o.model, Seed: o.seed, MNISTDir: o.mnistDir, Models: o.models, CachedOnly: o.cachedOnly}
	if err := env.CheckModel(); err != nil {
		return usagef("--model: %v", err)
	}
	ctx, stop, err := setUpEnv(ctx, env, o.out, o.device, o.quiet, stderr)
	if err != nil {
		return err
	}
	defer stop()
	if scale == reproduce.Paper && env.Backend.Name() == "cpu" {
		fmt.Fprintln(stderr, "note: the paper scale trains dozens of MNIST models for 50 000 steps each; on the CPU that takes days (use --device cuda)")
	}
	start := time.Now()
	reports, err := reproduce.Run(ctx, env, targets)
	for _, r := range reports {
		fmt.Fprintf(stdout, "%-8s %-16s %6s  %s/%s/report.md\n", r.Name, r.Overall(), r.Elapsed.Round(time.Second), o.out, r.Name)
	}
	if err != nil && ctx.Err() != nil {
		return workError(ctx, fmt.Errorf("interrupted; finished reports and trained models in %s are kept, and a rerun resumes: %w", o.out, err))
	}
	if err != nil {
		return workError(ctx, err)
	}
	if len(reports) > 1 {
		fmt.Fprintf(stdout, "index: %s/index.md (%s)\n", o.out, time.Since(start).Round(time.Second))
	}
	return nil
}
