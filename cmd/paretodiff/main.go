// Command paretodiff computes and plots diffusion loss weightings, solves
// Pareto (min-norm) timestep weightings, trains diffusion models while
// measuring gradient conflict between timesteps, and reproduces the analysis
// figures of the Min-SNR-γ paper. Run "paretodiff help" for the commands,
// and "paretodiff version" (or --version) for the build: the module
// version, VCS revision and Go version.
//
// Exit status: 0 on success, 2 for bad input (flags, files, options) and 1
// for failures during the work itself. Errors are one line on stderr.
package main

import "os"

func main() {
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}
