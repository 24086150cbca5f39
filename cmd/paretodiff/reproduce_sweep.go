package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/spf13/cobra"
)

// The paper scale as a sweep: `reproduce plan` lists the runs of the
// model cache that the targets need, `reproduce train-one` trains one of
// them (a job array's task, an indexed job's pod), and `reproduce NAME...`
// then finds them all in the cache and only analyses.

func newReproducePlanCmd() *cobra.Command {
	var scale, model string
	var seed uint64
	cmd := &cobra.Command{
		Use:   "plan [NAME...] [--scale S] [--model M] [--seed N]",
		Short: "List the runs the targets train, one JSON line each, for a sweep of train-one",
		Long: `plan prints every run of the model cache that the named targets (default: all) need at
--scale, --model and --seed, each once, one JSON line per run, in an order in which each can be
trained (a fine-tune after its base):

  {"index":0,"key":"eps_snr_s1_1a2b3c4d5e6f","kind":"model","needs":[],"targets":["fig2","fig5","fig6"],"spec":{...}}

index is what train-one --index takes; key is the run's folder in the model cache; needs
are the indices of the runs it starts from; spec is its run.Spec. The number of lines is
the size of the sweep: paretodiff reproduce plan all --scale paper | wc -l.`,
		Example: `  paretodiff reproduce plan all --scale paper > plan.jsonl
  paretodiff reproduce plan fig5 fig6 --scale quick`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			plan, _, err := sweepPlan(args, scale, model, seed)
			if err != nil {
				return err
			}
			return failure(reproduce.WritePlan(cmd.OutOrStdout(), plan))
		},
	}
	f := cmd.Flags()
	f.StringVar(&scale, "scale", "quick", "size of the runs: smoke, quick, medium or paper")
	addModelFlag(cmd, &model)
	f.Uint64Var(&seed, "seed", 1, "random seed of every model, batch and sample")
	return cmd
}

// addModelFlag registers reproduce's --model: the network of every model
// (reproduce.ModelSizesOf).
func addModelFlag(cmd *cobra.Command, model *string) {
	cmd.Flags().StringVar(model, "model", "resmlp", "network of every model: "+strings.Join(reproduce.Models, ", ")+" (a DiT needs the medium or paper scale's images; smoke trains a tiny one)")
}

// sweepPlan is the plan of the named targets (all if none) at a scale,
// model and seed, with the Env it was made for.
func sweepPlan(names []string, scale, model string, seed uint64) ([]reproduce.PlannedRun, *reproduce.Env, error) {
	if len(names) == 0 {
		names = []string{"all"}
	}
	targets, err := reproduce.Resolve(names)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	sc, err := reproduce.ParseScale(scale)
	if err != nil {
		return nil, nil, usagef("--scale: %v", err)
	}
	env := &reproduce.Env{Scale: sc, Model: model, Seed: seed}
	if err := env.CheckModel(); err != nil {
		return nil, nil, usagef("--model: %v", err)
	}
	plan, err := reproduce.Plan(env, targets)
	if err != nil {
		return nil, nil, failure(err)
	}
	return plan, env, nil
}

type trainOneOptions struct {
	scale, model, spec, device, out, models, mnistDir string
	seed                                              uint64
	index                                             int
	indexSet, quiet                                   bool
}

func newReproduceTrainOneCmd() *cobra.Command {
	o := &trainOneOptions{}
	cmd := &cobra.Command{
		Use:   "train-one [NAME...] (--index I | --spec FILE) [--scale S] [--out DIR | --models DIR]",
		Short: "Train one run of the plan into the model cache (one task of a sweep)",
		Long: `train-one trains run I of the plan of the named targets (default: all; the same names,
--scale, --model and --seed as plan), or the run of one line of plan's output (--spec FILE, - for
stdin), into the model cache (OUT/models, or --models DIR): the same folder and files as
reproduce would write, then exits. It trains the runs it needs first (a fine-tune's base),
or finds them complete. A run complete in the cache is a no-op; an interrupted one resumes
from its checkpoint.

Processes may share the cache (a job array on a shared volume): each run is trained under
an exclusive lock on MODELS/KEY.lock, and a second process that asks for a run being
trained waits for the lock, then finds the run complete. (Waiting rather than failing
makes a repeated or overlapping task correct without a resubmission; the file system must
support locks: a local disk, NFSv4, CephFS, Lustre mounted with flock.)

SIGTERM (what Slurm and Kubernetes send a task they preempt or time out) and Ctrl-C write
the checkpoint and exit with 143 and 130; the same command resumes. Bad input (an index out
of range, a malformed line, a run not in the plan) exits with 2.`,
		Example: `  paretodiff reproduce train-one --scale paper --device cuda --index 3 --out repro-paper
  paretodiff reproduce train-one --scale paper --device cuda --spec run.jsonl --models /shared/models`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.indexSet = cmd.Flags().Changed("index")
			return o.run(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.scale, "scale", "quick", "size of the runs: smoke, quick, medium or paper")
	addModelFlag(cmd, &o.model)
	f.Uint64Var(&o.seed, "seed", 1, "random seed of every model, batch and sample")
	f.IntVar(&o.index, "index", 0, "the run's index in the plan (its JSON line's \"index\")")
	f.StringVar(&o.spec, "spec", "", "a file holding one line of plan's output (- for stdin), instead of --index")
	addDeviceFlag(cmd, &o.device)
	f.StringVar(&o.out, "out", "reproduce-out", "output folder; the model cache is OUT/models")
	f.StringVar(&o.models, "models", "", "the model cache (default OUT/models)")
	f.StringVar(&o.mnistDir, "mnist-dir", "", "folder with the MNIST IDX files (default: found as reproduce finds them)")
	f.BoolVar(&o.quiet, "quiet", false, "print no progress lines")
	return cmd
}

// run trains the selected run (and what it needs).
func (o *trainOneOptions) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if o.indexSet == (o.spec != "") {
		return usagef("reproduce train-one: give either --index or --spec")
	}
	plan, env, err := sweepPlan(args, o.scale, o.model, o.seed)
	if err != nil {
		return err
	}
	i := o.index
	if o.spec != "" {
		if i, err = o.findSpec(plan); err != nil {
			return err
		}
	}
	if i < 0 || i >= len(plan) {
		return usagef("reproduce train-one: --index %d is out of range: the plan's indices are 0 to %d", i, len(plan)-1)
	}
	env.MNISTDir = o.mnistDir
	out := o.out
	if o.models != "" {
		// The cache is all train-one writes: no other output folder.
		out, env.Models = o.models, o.models
	}
	ctx, stop, err := setUpEnv(ctx, env, out, o.device, o.quiet, stderr)
	if err != nil {
		return err
	}
	defer stop()
	start := time.Now()
	trained, err := reproduce.TrainPlanned(ctx, env, plan, i)
	if err != nil && ctx.Err() != nil {
		return workError(ctx, fmt.Errorf("interrupted; the checkpoints in %s are kept, and the same command resumes: %w", env.ModelsDir(), err))
	}
	if err != nil {
		return workError(ctx, err)
	}
	dir := filepath.Join(env.ModelsDir(), plan[i].Key)
	if len(trained) == 0 {
		fmt.Fprintf(stdout, "run %d %s: complete in the cache, nothing trained (%s)\n", i, plan[i].Key, dir)
		return nil
	}
	for _, k := range trained {
		fmt.Fprintf(stdout, "trained %s\n", k)
	}
	fmt.Fprintf(stdout, "run %d %s: complete in %s (%s)\n", i, plan[i].Key, dir, time.Since(start).Round(time.Second))
	return nil
}

// findSpec reads --spec and returns its run's index in the plan.
func (o *trainOneOptions) findSpec(plan []reproduce.PlannedRun) (int, error) {
	in := io.Reader(os.Stdin)
	if o.spec != "-" {
		f, err := os.Open(o.spec)
		if err != nil {
			return 0, usagef("--spec: %v", err)
		}
		defer f.Close()
		in = f
	}
	p, err := reproduce.ReadPlannedRun(in)
	if err != nil {
		return 0, usagef("--spec %s: %v", o.spec, err)
	}
	i, err := reproduce.Find(plan, p)
	if err != nil {
		return 0, usagef("--spec %s: %v", o.spec, err)
	}
	return i, nil
}
