package weighting

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// onlineTest is a stand-in for a family registered by another package.
type onlineTest struct{ every string }

func (o onlineTest) String() string { return "registry-test:" + o.every }

func init() {
	Register(Family{Name: "registry-test", Usage: "registry-test:N", Help: "a test family\nof two lines", Online: true,
		Parse: func(spec, args string, hasArgs bool) (Weighting, error) {
			if !hasArgs {
				return nil, errors.New("weighting: registry-test needs N")
			}
			return onlineTest{every: args}, nil
		}})
}

func TestRegistryDispatch(t *testing.T) {
	w, err := Parse("registry-test:3")
	require.NoError(t, err)
	require.Equal(t, onlineTest{every: "3"}, w)
	_, err = Parse("registry-test")
	require.ErrorContains(t, err, "needs N")

	_, err = ParseStrategy("registry-test:3")
	require.ErrorIs(t, err, ErrNotClosedForm)
	require.Panics(t, func() { MustParse("registry-test:3") })

	_, err = Parse("bogus:1")
	require.ErrorIs(t, err, ErrUnknown)
	require.ErrorContains(t, err, "min-snr[:γ]")
	require.ErrorContains(t, err, "registry-test:N")
	_, err = ParseStrategy("bogus:1")
	require.ErrorIs(t, err, ErrUnknown)
	require.NotContains(t, err.Error(), "registry-test", "closed forms only")

	// Aliases dispatch to their family.
	for _, a := range []string{"const", "none", " constant "} {
		s, err := ParseStrategy(a)
		require.NoError(t, err, a)
		require.Equal(t, Constant{}, s)
	}
}

func TestRegisterRejectsDuplicates(t *testing.T) {
	parse := func(spec, args string, hasArgs bool) (Weighting, error) { return Constant{}, nil }
	require.Panics(t, func() { Register(Family{Name: "min-snr", Parse: parse}) })
	require.Panics(t, func() { Register(Family{Name: "fresh-name", Aliases: []string{"const"}, Parse: parse}) })
	require.Panics(t, func() { Register(Family{Name: "bad:name", Parse: parse}) })
	require.Panics(t, func() { Register(Family{Name: "no-parser"}) })
}

func TestHelpListsFamilies(t *testing.T) {
	all, closed := Help(false), Help(true)
	for _, f := range Families() {
		require.Contains(t, all, f.Usage)
		if f.Online {
			require.NotContains(t, closed, f.Usage)
		} else {
			require.Contains(t, closed, f.Usage)
		}
	}
	// Continuation lines of a help text are indented under it.
	i := strings.Index(all, "a test family")
	require.Greater(t, i, 0)
	col := i - strings.LastIndex(all[:i], "\n") - 1
	require.Contains(t, all, "\n"+strings.Repeat(" ", col)+"of two lines")
	require.Equal(t, closed, StrategyHelp())
}
