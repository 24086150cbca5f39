package weighting

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Weighting is a parsed weighting spec. A closed form is a Strategy; other
// packages register families whose weights are computed during training
// (package conflict's online "pareto:…"), which the trainer recognises by
// the methods they implement. Every Weighting's String is its canonical
// spec, which Parse reads back.
type Weighting interface {
	String() string
}

// Family is one family of weighting specs "name[:args]", such as min-snr.
type Family struct {
	// Name is the spec's name before the colon; Aliases are other names
	// for it ("const" for "constant").
	Name    string
	Aliases []string
	// Usage is the spec's form, such as "min-snr[:γ]", and Help says what
	// it weighs, in one line (more lines indented by the caller's help).
	Usage, Help string
	// Online is set for families whose weights are computed during
	// training (not a Strategy), which only training accepts.
	Online bool
	// Parse reads the arguments after the colon (args is "" and hasArgs
	// false for a bare name); spec is the whole spec, for messages.
	Parse func(spec, args string, hasArgs bool) (Weighting, error)
}

var (
	registryMu sync.RWMutex
	families   []Family
	byName     = map[string]int{}
)

// Register adds a family of specs. Names and aliases are unique across
// families; a duplicate or a family without a name or parser panics (a
// programmer error). Packages register their families in init.
func Register(f Family) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if f.Name == "" || f.Parse == nil {
		panic(fmt.Sprintf("weighting: Register: family %q needs a name and a parser", f.Name))
	}
	for _, n := range append([]string{f.Name}, f.Aliases...) {
		if _, dup := byName[n]; dup || strings.ContainsAny(n, ":, ") {
			panic(fmt.Sprintf("weighting: Register: name %q is taken or malformed", n))
		}
		byName[n] = len(families)
	}
	families = append(families, f)
}

// Families returns the registered families in registration order (the
// closed forms of this package first).
func Families() []Family {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return append([]Family(nil), families...)
}

// ErrUnknown is wrapped by Parse's error for a spec whose name no family
// has (is the package that registers it imported?).
var ErrUnknown = errors.New("unknown weighting")

// ErrNotClosedForm is wrapped by ParseStrategy's error for a spec of an
// online family, which has no closed form to evaluate.
var ErrNotClosedForm = errors.New("not a closed-form weighting")

// Parse reads any registered weighting spec "name[:args]": the closed
// forms of this package (StrategyHelp) and the families other packages
// register, each dispatched to its family's parser by name.
func Parse(spec string) (Weighting, error) { return parse(spec, false) }

// parse dispatches spec to its family; an unknown name's error lists the
// families (the closed forms only, with closedOnly).
func parse(spec string, closedOnly bool) (Weighting, error) {
	name, args, hasArgs := strings.Cut(strings.TrimSpace(spec), ":")
	registryMu.RLock()
	i, ok := byName[strings.TrimSpace(name)]
	var f Family
	var names []string
	if ok {
		f = families[i]
	} else {
		for _, g := range families {
			if !closedOnly || !g.Online {
				names = append(names, g.Usage)
			}
		}
	}
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("weighting: %w %q (want one of %s)", ErrUnknown, name, strings.Join(names, ", "))
	}
	return f.Parse(spec, args, hasArgs)
}

// ParseStrategy reads a closed-form spec; an online family's spec is an
// error wrapping ErrNotClosedForm.
func ParseStrategy(spec string) (Strategy, error) {
	w, err := parse(spec, true)
	if err != nil {
		return nil, err
	}
	s, ok := w.(Strategy)
	if !ok {
		return nil, fmt.Errorf("weighting: %q is computed during training: %w", spec, ErrNotClosedForm)
	}
	return s, nil
}

// MustParse is ParseStrategy that panics on error, for specs fixed in
// code.
func MustParse(spec string) Strategy {
	s, err := ParseStrategy(spec)
	if err != nil {
		panic(err)
	}
	return s
}

// helpColumn is the widest usage that help puts on one line with its text;
// a longer one gets its text on the lines below, indented.
const helpColumn = 20

// Help lists the registered specs, one family per entry ("usage  help"),
// for command help; with closedOnly, only the closed forms.
func Help(closedOnly bool) string {
	fs := Families()
	width := 0
	for _, f := range fs {
		if n := len([]rune(f.Usage)); n <= helpColumn {
			width = max(width, n)
		}
	}
	indent := strings.Repeat(" ", width+2)
	var lines []string
	for _, f := range fs {
		if closedOnly && f.Online {
			continue
		}
		help := strings.ReplaceAll(f.Help, "\n", "\n"+indent)
		if n := len([]rune(f.Usage)); n <= width {
			lines = append(lines, f.Usage+strings.Repeat(" ", width+2-n)+help)
		} else {
			lines = append(lines, f.Usage+"\n"+indent+help)
		}
	}
	return strings.Join(lines, "\n")
}
