// Package nb holds what every notebook under notebooks/ shares: its
// command line (-scale, -out, -models, -seed, -quiet) and the writing of
// its report. The analyses themselves live in each notebook's main.go and
// use only the public API of the toolkit's packages.
package nb

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/reproduce"
)

// Options are a notebook's settings.
type Options struct {
	// Scale picks the sizes (reproduce.Smoke, Quick or Paper).
	Scale reproduce.Scale
	// Out is the notebook's folder: its figures, CSVs and report.md.
	Out string
	// Models is the model cache, shared by the notebooks so that fig5,
	// fig6, table2 and fig2 train each model once.
	Models string
	// Seed seeds every model, batch and sample.
	Seed uint64
	// Log receives progress lines (nil: none).
	Log io.Writer
}

// Env returns the reproduce environment of the options (CPU backend).
func (o Options) Env() *reproduce.Env {
	return &reproduce.Env{Scale: o.Scale, Out: o.Out, Models: o.Models, Seed: o.Seed, Log: o.Log}
}

// Path returns a file's path in the notebook's folder.
func (o Options) Path(name string) string { return filepath.Join(o.Out, name) }

// WriteReport writes report.md into the notebook's folder, atomically.
func (o Options) WriteReport(markdown string) error {
	return atomicfile.WriteBytes(o.Path("report.md"), []byte(markdown))
}

// Logf writes a progress line to Log, if any.
func (o Options) Logf(format string, a ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", a...)
	}
}

// Main parses the notebook's flags, creates its folder and runs it with a
// context that Ctrl-C cancels. A bad flag exits with status 2, a failure
// with 1, each with one line on stderr.
func Main(name string, run func(context.Context, Options) error) { MainFlags(name, nil, run) }

// MainFlags is Main for a notebook with flags of its own, which addFlags
// registers (their values are read by run through the variables they bind).
func MainFlags(name string, addFlags func(*flag.FlagSet), run func(context.Context, Options) error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if addFlags != nil {
		addFlags(fs)
	}
	scale := fs.String("scale", string(reproduce.Quick), "sizes: smoke (seconds, tests), quick (toy data, minutes on 2 CPU cores) or paper (MNIST, for a GPU machine)")
	out := fs.String("out", filepath.Join("out", "notebooks", name), "folder for the figures and report.md")
	models := fs.String("models", filepath.Join("out", "notebooks", "models"), "model cache shared by the notebooks")
	seed := fs.Uint64("seed", 1, "random seed")
	quiet := fs.Bool("quiet", false, "no progress lines")
	fs.SetOutput(io.Discard)
	fail := func(code int, err error) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(code)
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fmt.Printf("usage: go run ./notebooks/%s [flags]\n", name)
			fs.PrintDefaults()
			return
		}
		fail(2, err)
	}
	sc, err := reproduce.ParseScale(*scale)
	if err != nil {
		fail(2, err)
	}
	o := Options{Scale: sc, Out: *out, Models: *models, Seed: *seed}
	if !*quiet {
		o.Log = os.Stderr
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		fail(2, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		stop()
		fail(1, err)
	}
	fmt.Printf("%s: report %s\n", name, o.Path("report.md"))
}
