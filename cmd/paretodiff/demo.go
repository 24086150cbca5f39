package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/paretodiff/paretodiff/demo"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/stat"
)

func init() { register(newDemoCmd) }

type demoOptions struct {
	out, device, size string
	seed              uint64
	quiet             bool
}

func newDemoCmd() *cobra.Command {
	o := &demoOptions{}
	q, err := demo.SizesFor(reproduce.Quick)
	if err != nil {
		panic(err) // the quick size is a table in package demo
	}
	cmd := &cobra.Command{
		Use:   "demo [--out DIR] [--seed S] [--device cpu|cuda|auto]",
		Short: "The quick end-to-end tour: train a small model, probe gradient conflicts, solve Pareto weights, compare with min-SNR-5",
		Long: fmt.Sprintf(`demo runs the toolkit's analyses end to end on a built-in default that needs no flags and
takes about half a minute on two CPU cores:

  1. the closed-form weights of constant, SNR, max-SNR-1 and min-SNR-5 (weights.png);
  2. trains a %[1]s-prediction ResMLP (width %[2]d, depth %[3]d) with %[4]s on %[5]s for
     %[6]d steps, with the paper's Fig. 6 x0-MSE by timestep range (training.png, model/);
  3. before training and every %[7]d steps, probes the gradients of %[8]d equal-width timestep
     bins: the exact %[8]d×%[8]d Gram matrix from one forward/backward pass over %[9]d examples
     per bin, cosines, conflict statistics (the log in model/probes/conflict/: probes.jsonl,
     Gram and cosine .npy files; the figures in conflict/: cosine.png, stats.png, weights.png);
  4. solves the Pareto weights of the last probe (Frank-Wolfe and UGD, with λ = 0 and with
     λ = %[10]g·tr(G)/K in Eq. 11) and compares them with the four closed forms normalised
     the same way, on the Eq. 11 objective and the Eq. 8 check (pareto.png, pareto.csv);
  5. samples the trained and the untrained network (%[11]s, %[12]d steps, %[13]d points) and
     measures their sliced Wasserstein distance to real data (samples.png, quality.csv);
  6. writes report.md, which explains each result in plain words with this run's numbers.

The same --seed gives the same numbers. model/ is a run folder (as train writes it) that
sample, eval and conflict --checkpoint read; each demo replaces it.`, q.Target, q.Model.Width, q.Model.Depth, q.Strategy, q.Model.Data, q.Model.Steps,
			q.ProbeEvery, q.Bins, q.PerBin, q.Lambda, q.Model.Sampler, q.Model.SamplerSteps, q.Model.Samples),
		Example: `  paretodiff demo
  paretodiff demo --out runs/demo --seed 2
  paretodiff demo --device auto`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "demo-out", "output folder (report.md, figures, CSVs, model/, conflict/)")
	f.Uint64Var(&o.seed, "seed", 1, "random seed of the weights, batches, probes and samples")
	addDeviceFlag(cmd, &o.device)
	f.BoolVar(&o.quiet, "quiet", false, "print only the summary, no progress lines")
	// --size smoke runs the same pipeline at a tiny size in a second: for
	// tests, not for reading.
	f.StringVar(&o.size, "size", string(reproduce.Quick), "demo size: quick or smoke (tests)")
	_ = f.MarkHidden("size")
	return cmd
}

func (o *demoOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	sizes, err := demo.SizesFor(reproduce.Scale(o.size))
	if err != nil {
		return usagef("--size: %v", err)
	}
	env := &reproduce.Env{Scale: reproduce.Scale(o.size), Seed: o.seed}
	ctx, stop, err := setUpEnv(ctx, env, o.out, o.device, o.quiet, stderr)
	if err != nil {
		return err
	}
	defer stop()
	res, err := demo.Run(ctx, env, sizes)
	if err != nil {
		return workError(ctx, err)
	}
	report := filepath.Join(o.out, demo.ReportFile)
	env.Logf("demo: [5/5] writing %s", report)
	if err := res.Render(o.out); err != nil {
		return workError(ctx, err)
	}
	f := res.Final()
	m := res.Weighting("min-snr:5")
	fmt.Fprintf(stdout, "demo finished in %s on %s\n", res.Elapsed.Round(1e9), res.Device)
	fmt.Fprintf(stdout, "  samples: %s %.3f trained, %.3f untrained, %.3f floor\n", res.Quality.Metric, stat.Mean(res.Quality.Trained, nil), res.Quality.Untrained, res.Quality.Floor)
	fmt.Fprintf(stdout, "  conflict: %.0f%% of bin pairs have a negative cosine after training (min %.3f)\n", 100*f.Stats.NegativeFraction, f.Stats.MinCosine)
	if m != nil {
		fmt.Fprintf(stdout, "  min-snr:5: Eq. 11 objective %.3g× the Pareto optimum (λ = %.3g), distance %.3f to the Pareto weights\n", m.RatioL, res.Lambda, m.TV)
	}
	fmt.Fprintf(stdout, "report: %s\n", report)
	return nil
}
