// Package jsondiff names the fields in which two values' JSON forms
// differ, for messages such as "the checkpoint's train.weighting is
// "min-snr:5", this run's "snr"". It compares what a file would hold, so
// two values that encode alike are equal.
package jsondiff

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// Difference is one field whose values differ: Path is dotted JSON keys
// ("train.optim.lr"; list elements by index, "probes.0.bins"), A and B the
// two values in JSON ("" where the field is absent).
type Difference struct {
	Path string
	A, B string
}

// String writes "path: A vs B".
func (d Difference) String() string {
	return fmt.Sprintf("%s: %s vs %s", d.Path, orAbsent(d.A), orAbsent(d.B))
}

func orAbsent(s string) string {
	if s == "" {
		return "(absent)"
	}
	return s
}

// Fields returns the differences between the JSON forms of a and b, by
// path. It panics if either value cannot be encoded (a programmer error:
// the values compared are the toolkit's own serialisable types).
func Fields(a, b any) []Difference {
	fa, fb := flatten(a), flatten(b)
	var out []Difference
	for p, va := range fa {
		if vb, ok := fb[p]; !ok || vb != va {
			out = append(out, Difference{Path: p, A: va, B: fb[p]})
		}
	}
	for p, vb := range fb {
		if _, ok := fa[p]; !ok {
			out = append(out, Difference{Path: p, B: vb})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// flatten maps every leaf of v's JSON form to its path.
func flatten(v any) map[string]string {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("jsondiff: %T: %v", v, err))
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		panic(fmt.Sprintf("jsondiff: %T: %v", v, err))
	}
	out := map[string]string{}
	var walk func(prefix string, x any)
	walk = func(prefix string, x any) {
		join := func(k string) string {
			if prefix == "" {
				return k
			}
			return prefix + "." + k
		}
		switch t := x.(type) {
		case map[string]any:
			for k, c := range t {
				walk(join(k), c)
			}
		case []any:
			for i, c := range t {
				walk(join(strconv.Itoa(i)), c)
			}
			if len(t) == 0 {
				out[prefix] = "[]"
			}
		default:
			b, _ := json.Marshal(t)
			out[prefix] = string(b)
		}
	}
	walk("", tree)
	return out
}
