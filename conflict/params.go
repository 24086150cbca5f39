package conflict

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ParamsHelp describes the parameter-subset specs ParseParams reads.
const ParamsHelp = `all          every parameter (default)
last-block   the last residual block (blockN.*, N the highest): the analogue
             of MGDA's gradients with respect to the shared representation
head         the output LayerNorm and layer (norm_out.*, out.*; a DiT's
             final adaLN and Linear layer, final.*; a network with the
             learned input skip has it apart, as skip.*)
GLOB,...     parameters whose name matches any glob (path.Match: * matches
             any run of characters, dots included), such as
             "block2.*", "out.weight", "block*.fc1.weight,time*"`

var blockName = regexp.MustCompile(`^block(\d+)\.`)

// ParseParams turns a parameter-subset spec (see ParamsHelp) into a filter
// on parameter names, checked against the network's names: every glob must
// match at least one of them. It returns nil for "all" (every parameter).
func ParseParams(spec string, names []string) (func(string) bool, error) {
	spec = strings.TrimSpace(spec)
	switch spec {
	case "", "all":
		return nil, nil
	case "last-block":
		last := -1
		for _, n := range names {
			if m := blockName.FindStringSubmatch(n); m != nil {
				i, _ := strconv.Atoi(m[1])
				last = max(last, i)
			}
		}
		if last < 0 {
			return nil, fmt.Errorf("conflict: params %q: the network has no residual blocks (blockN.*)", spec)
		}
		prefix := fmt.Sprintf("block%d.", last)
		return func(name string) bool { return strings.HasPrefix(name, prefix) }, nil
	case "head":
		spec = "norm_out.*,out.*"
		if slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "final.") }) {
			spec = "final.*" // a DiT's head
		}
	}
	var pats []string
	for _, p := range strings.Split(spec, ",") {
		p = strings.TrimSpace(p)
		if _, err := path.Match(p, ""); err != nil || p == "" {
			return nil, fmt.Errorf("conflict: params %q: %q is not a valid glob", spec, p)
		}
		hit := false
		for _, n := range names {
			if ok, _ := path.Match(p, n); ok {
				hit = true
				break
			}
		}
		if !hit {
			sorted := append([]string(nil), names...)
			sort.Strings(sorted)
			return nil, fmt.Errorf("conflict: params %q: %q matches no parameter (have %s)", spec, p, strings.Join(sorted, ", "))
		}
		pats = append(pats, p)
	}
	return func(name string) bool {
		for _, p := range pats {
			if ok, _ := path.Match(p, name); ok {
				return true
			}
		}
		return false
	}, nil
}
