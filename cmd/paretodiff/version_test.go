package main

import (
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVersionFlagAndCommand(t *testing.T) {
	want := version(debug.ReadBuildInfo())
	for _, args := range [][]string{{"--version"}, {"-v"}, {"version"}} {
		stdout, stderr, code := runCLI(t, args...)
		require.Equal(t, 0, code, stderr)
		require.Empty(t, stderr)
		require.Equal(t, want+"\n", stdout, args)
	}
	lines := strings.Split(want, "\n")
	require.Len(t, lines, 3)
	// A test build is "(devel)"; whatever is missing is said so.
	require.True(t, strings.HasPrefix(lines[0], "paretodiff "), lines[0])
	require.True(t, strings.HasPrefix(lines[1], "revision "), lines[1])
	require.Equal(t, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH, lines[2])

	_, stderr, code := runCLI(t, "version", "extra")
	require.Equal(t, 2, code)
	require.Equal(t, `paretodiff: unknown command "extra" for "paretodiff version"`+"\n", stderr)
}

func TestVersionFromBuildInfo(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, c := range []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"release, modified tree", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Path: "github.com/paretodiff/paretodiff", Version: "v1.4.0"},
			Settings: vcs("vcs", "git", "vcs.revision", "0123456789abcdef0123456789abcdef01234567", "vcs.time", "2025-11-30T12:00:00Z", "vcs.modified", "true")},
			true, "paretodiff v1.4.0\nrevision 0123456789abcdef0123456789abcdef01234567 (2025-11-30T12:00:00Z, modified)\ngo1.26.1 " + platform},
		{"clean tree, no time", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "abc123", "vcs.modified", "false")},
			true, "paretodiff (devel)\nrevision abc123 (clean)\ngo1.26.1 " + platform},
		{"go run: no VCS", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}, Settings: vcs("-buildmode", "exe")},
			true, "paretodiff (devel)\nrevision unknown (no VCS information in this build)\ngo1.26.1 " + platform},
		{"no build information", nil, false, "paretodiff unknown\nrevision unknown (no VCS information in this build)\n" + runtime.Version() + " " + platform},
	} {
		require.Equal(t, c.want, version(c.bi, c.ok), c.name)
	}
}

// Every error line has one "paretodiff:" prefix; a flag error names the
// subcommand. Exit status 2.
func TestFlagErrorsHaveOnePrefix(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--foo"}, "paretodiff: unknown flag: --foo"},
		{[]string{"--version=maybe"}, `paretodiff: invalid argument "maybe" for "-v, --version" flag: strconv.ParseBool: parsing "maybe": invalid syntax`},
		{[]string{"train", "--foo"}, "paretodiff: train: unknown flag: --foo"},
		{[]string{"train", "--version"}, "paretodiff: train: unknown flag: --version"},
		{[]string{"sample", "--n", "x"}, `paretodiff: sample: invalid argument "x" for "--n" flag: strconv.ParseInt: parsing "x": invalid syntax`},
		{[]string{"solve", "--gram"}, "paretodiff: solve: flag needs an argument: --gram"},
		{[]string{"nope"}, `paretodiff: unknown command "nope" for "paretodiff"`},
	} {
		stdout, stderr, code := runCLI(t, c.args...)
		require.Equal(t, 2, code, c.args)
		require.Empty(t, stdout)
		require.Equal(t, c.want+"\n", stderr, c.args)
	}
	// Every command.
	for _, cmd := range newRootCmd(io.Discard, io.Discard).Commands() {
		if cmd.Name() == "help" {
			continue
		}
		_, stderr, code := runCLI(t, cmd.Name(), "--no-such-flag")
		require.Equal(t, 2, code, cmd.Name())
		require.Equal(t, "paretodiff: "+cmd.Name()+": unknown flag: --no-such-flag\n", stderr)
	}
}
