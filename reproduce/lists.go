package reproduce

// indexOf is the index of v in s (−1 if absent).
func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// thin keeps about n of the lines, evenly spread, first and last included,
// for prose.
func thin(lines []string, n int) []string {
	if len(lines) <= n {
		return lines
	}
	var out []string
	for _, i := range spreadIndices(len(lines), n) {
		out = append(out, lines[i])
	}
	return out
}
