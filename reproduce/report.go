package reproduce

import (
	"encoding/csv"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/internal/atomicfile"
)

// Verdict is how a measured result compares with the paper's claim. It is
// always computed from the measured numbers by a rule the report states.
type Verdict string

const (
	// Agrees: the measurement supports the claim.
	Agrees Verdict = "agrees"
	// Partly: it supports part of the claim (some targets, some bins).
	Partly Verdict = "partly agrees"
	// Disagrees: it does not support the claim.
	Disagrees Verdict = "does not agree"
	// Inconclusive: the effect is within the measured noise.
	Inconclusive Verdict = "inconclusive"
)

// Outcome is what one case (a target, a bin) says about a claim.
type Outcome int

const (
	// Supports: the case supports the claim.
	Supports Outcome = iota
	// Contradicts: the case contradicts it beyond the measured noise.
	Contradicts
	// WithinNoise: the case's difference is within the measured noise.
	WithinNoise
)

// VerdictOf combines the outcomes of the cases of a claim: Agrees if all
// support it, Disagrees if none does and some contradict it, Inconclusive
// if all are within noise, and Partly otherwise.
func VerdictOf(outcomes ...Outcome) Verdict {
	var n [3]int
	for _, o := range outcomes {
		n[o]++
	}
	switch {
	case n[Supports] == len(outcomes):
		return Agrees
	case n[WithinNoise] == len(outcomes):
		return Inconclusive
	case n[Supports] == 0 && n[Contradicts] > 0:
		return Disagrees
	}
	return Partly
}

// verdictRule states how VerdictOf combines cases, for the reports.
const verdictRule = "overall: agrees if every case supports the claim, does not agree if none does and some contradict it, inconclusive if all are within noise, partly agrees otherwise"

// Role says what a finding counts for in its report.
type Role string

const (
	// RolePrimary marks the finding of the one test a target declares in
	// its code before it measures (Report.Primary): the report's overall
	// verdict is its verdict.
	RolePrimary Role = "primary"
	// RoleSecondary marks a finding that reads more out of the same
	// numbers; it does not move the overall verdict.
	RoleSecondary Role = "secondary"
)

// Finding is one claim of the paper next to our measurement.
type Finding struct {
	// Role is RolePrimary for the declared test, RoleSecondary for the
	// others ("" in reports that declare no primary test).
	Role Role
	// Claim is what the paper says, in our words.
	Claim string
	// Measured is what we measured, with the numbers.
	Measured string
	// Rule is how Verdict follows from the numbers.
	Rule string
	// Verdict is the comparison.
	Verdict Verdict
}

// Section is a free-form part of a report: a heading and markdown.
type Section struct {
	Heading, Body string
}

// Report is the markdown report of a target: our numbers next to the
// paper's claim, what the scale can and cannot show, and the files.
type Report struct {
	// Name is the target's name and Title what it reproduces.
	Name, Title string
	// Paper names the figure or table reproduced and its setting.
	Paper string
	// Primary states the target's primary test as its code declares it,
	// fixed before any number is measured (which models, which settings,
	// which statistic, which margin); it is printed before the numbers, and
	// the finding with RolePrimary reports its outcome.
	Primary string
	// Scale, Seed and Device are those of the run (set by RunTarget), and
	// Model its network when it is not the ResMLP ("dit", "dit-s"; "" for
	// the ResMLP, whose reports read as before the DiT).
	Scale  Scale
	Model  string
	Seed   uint64
	Device string
	// Sizes are the scale's sizes, printed as a table in the header (any
	// struct or slice of structs; nil for none).
	Sizes any
	// Findings compare claims with measurements.
	Findings []Finding
	// Sections follow the findings.
	Sections []Section
	// Limits says what this scale can and cannot show.
	Limits string
	// Files lists the files written, relative to the target's folder.
	Files []string
	// Elapsed is the wall time of the run, and ModelsTrained and
	// ModelsReused the models it trained and took from the cache (set by
	// RunTarget).
	Elapsed                     time.Duration
	ModelsTrained, ModelsReused int
}

// Overall summarises the findings' verdicts: the primary finding's
// verdict when there is one, else the common verdict when they all agree
// on one, otherwise Partly; "no claim" without findings.
func (r *Report) Overall() Verdict {
	if len(r.Findings) == 0 {
		return "no claim"
	}
	for _, f := range r.Findings {
		if f.Role == RolePrimary {
			return f.Verdict
		}
	}
	v := r.Findings[0].Verdict
	for _, f := range r.Findings[1:] {
		if f.Verdict != v {
			return Partly
		}
	}
	return v
}

// modelsNote says how many models the run trained and reused ("" for
// none).
func (r *Report) modelsNote() string {
	if r.ModelsTrained+r.ModelsReused == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d models trained, %d reused from the cache)", r.ModelsTrained, r.ModelsReused)
}

// Markdown renders the report.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: %s\n\n", r.Name, r.Title)
	if r.Paper != "" {
		fmt.Fprintf(&b, "Reproduces: %s\n\n", r.Paper)
	}
	fmt.Fprintf(&b, "Scale `%s`%s, seed %d, device %s, wall time %s%s. Overall: **%s**%s.\n\n", r.Scale, modelNote(r.Model), r.Seed, r.Device, r.Elapsed.Round(time.Second), r.modelsNote(), r.Overall(), r.overallNote())
	if r.Primary != "" {
		fmt.Fprintf(&b, "## Primary test (declared in the code before measuring)\n\n%s\n\n", strings.TrimSpace(r.Primary))
	}
	if r.Sizes != nil {
		b.WriteString("## Sizes at this scale\n\n")
		b.WriteString(SizesTable(r.Sizes))
		b.WriteString("\n")
	}
	if len(r.Findings) > 0 {
		b.WriteString("## The paper's claims and our measurements\n\n")
		for i, f := range r.Findings {
			fmt.Fprintf(&b, "%d. %s**Claim:** %s\n\n   **Measured:** %s\n\n   **Verdict: %s.**", i+1, roleLabel(f.Role), f.Claim, indent(f.Measured), f.Verdict)
			if f.Rule != "" {
				fmt.Fprintf(&b, " (Rule: %s)", f.Rule)
			}
			b.WriteString("\n\n")
		}
	}
	for _, s := range r.Sections {
		fmt.Fprintf(&b, "## %s\n\n%s\n\n", s.Heading, strings.TrimSpace(s.Body))
	}
	if r.Limits != "" {
		fmt.Fprintf(&b, "## What this scale can and cannot show\n\n%s\n\n", strings.TrimSpace(r.Limits))
	}
	if len(r.Files) > 0 {
		b.WriteString("## Files\n\n")
		for _, f := range r.Files {
			if strings.HasSuffix(f, ".png") {
				fmt.Fprintf(&b, "- [%s](%s)\n\n  ![%s](%s)\n", f, f, f, f)
			} else {
				fmt.Fprintf(&b, "- [%s](%s)\n", f, f)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// overallNote says where the overall verdict comes from when a primary
// test decides it.
func (r *Report) overallNote() string {
	for _, f := range r.Findings {
		if f.Role == RolePrimary {
			return " (the primary test's)"
		}
	}
	return ""
}

// roleLabel is a finding's label in the list ("" without a role).
func roleLabel(r Role) string {
	switch r {
	case RolePrimary:
		return "**Primary test.** "
	case RoleSecondary:
		return "*Secondary.* "
	}
	return ""
}

func indent(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n   ") }

// Write writes the markdown atomically.
func (r *Report) Write(path string) error {
	if err := atomicfile.WriteBytes(path, []byte(r.Markdown())); err != nil {
		return fmt.Errorf("reproduce: %w", err)
	}
	return nil
}

// modelNote is ", model `dit`" for a network other than the ResMLP.
func modelNote(model string) string {
	if model == "" || model == "resmlp" {
		return ""
	}
	return ", model `" + model + "`"
}

// WriteIndex writes an index of reports: one row per target with its
// verdict and wall time, linking each report.
func WriteIndex(path string, reports []*Report) error {
	var b strings.Builder
	b.WriteString("# Reproducing Hang et al. (ICCV 2023), Min-SNR weighting\n\n")
	if len(reports) > 0 {
		fmt.Fprintf(&b, "Scale `%s`%s, seed %d, device %s.\n\n", reports[0].Scale, modelNote(reports[0].Model), reports[0].Seed, reports[0].Device)
	}
	b.WriteString("| target | reproduces | verdict | findings | wall time | models trained / reused | report |\n|---|---|---|---|---|---|---|\n")
	var total time.Duration
	for _, r := range reports {
		var vs []string
		for _, f := range r.Findings {
			if f.Role == RolePrimary {
				vs = append([]string{"primary: " + string(f.Verdict)}, vs...)
			} else {
				vs = append(vs, string(f.Verdict))
			}
		}
		total += r.Elapsed
		fmt.Fprintf(&b, "| %s | %s | **%s** | %s | %s | %d / %d | [%s/report.md](%s/report.md) |\n",
			r.Name, r.Title, r.Overall(), strings.Join(vs, "; "), r.Elapsed.Round(time.Second), r.ModelsTrained, r.ModelsReused, r.Name, r.Name)
	}
	fmt.Fprintf(&b, "\nTotal wall time %s. Trained models are cached in models/ and reused by later runs with the same settings.\n", total.Round(time.Second))
	if err := atomicfile.WriteBytes(path, []byte(b.String())); err != nil {
		return fmt.Errorf("reproduce: %w", err)
	}
	return nil
}

// SizesTable renders a struct (or a slice of structs, one row each) as a
// markdown table of its exported fields; a []any renders one table per
// element.
func SizesTable(v any) string {
	if vs, ok := v.([]any); ok {
		var parts []string
		for _, x := range vs {
			parts = append(parts, SizesTable(x))
		}
		return strings.Join(parts, "\n")
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	var rows []reflect.Value
	if rv.Kind() == reflect.Slice {
		for i := 0; i < rv.Len(); i++ {
			rows = append(rows, reflect.Indirect(rv.Index(i)))
		}
	} else {
		rows = []reflect.Value{rv}
	}
	if len(rows) == 0 || rows[0].Kind() != reflect.Struct {
		return fmt.Sprintf("%v\n", v)
	}
	typ := rows[0].Type()
	var b strings.Builder
	if len(rows) == 1 {
		b.WriteString("| setting | value |\n|---|---|\n")
		for i := 0; i < typ.NumField(); i++ {
			if typ.Field(i).IsExported() {
				fmt.Fprintf(&b, "| %s | %s |\n", typ.Field(i).Name, fmtValue(rows[0].Field(i)))
			}
		}
		return b.String()
	}
	var head []string
	for i := 0; i < typ.NumField(); i++ {
		if typ.Field(i).IsExported() {
			head = append(head, typ.Field(i).Name)
		}
	}
	fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for _, r := range rows {
		var cells []string
		for i := 0; i < typ.NumField(); i++ {
			if typ.Field(i).IsExported() {
				cells = append(cells, fmtValue(r.Field(i)))
			}
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
	}
	return b.String()
}

func fmtValue(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Slice:
		var parts []string
		for i := 0; i < v.Len(); i++ {
			parts = append(parts, fmtValue(v.Index(i)))
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v.Interface())
}

// Table is a CSV table: a header and rows of cells.
type Table struct {
	Header []string
	Rows   [][]string
}

// Add appends a row of values: strings as they are, integers in decimal,
// floats with the shortest representation that reads back exactly.
func (t *Table) Add(cells ...any) {
	if len(cells) != len(t.Header) {
		panic(fmt.Sprintf("reproduce: row of %d cells for a header of %d", len(cells), len(t.Header)))
	}
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = Cell(c)
	}
	t.Rows = append(t.Rows, row)
}

// Cell formats one CSV cell (see Table.Add).
func Cell(c any) string {
	switch v := c.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32)
	case int:
		return strconv.Itoa(v)
	case uint64:
		return strconv.FormatUint(v, 10)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(c)
}

// WriteCSV writes the table to path atomically.
func (t *Table) WriteCSV(path string) error {
	err := atomicfile.Write(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write(t.Header); err != nil {
			return err
		}
		if err := cw.WriteAll(t.Rows); err != nil {
			return err
		}
		return cw.Error()
	})
	if err != nil {
		return fmt.Errorf("reproduce: %w", err)
	}
	return nil
}

// Markdown renders the table as a markdown table.
func (t *Table) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(t.Header, " | "), strings.Repeat("---|", len(t.Header)))
	for _, r := range t.Rows {
		fmt.Fprintf(&b, "| %s |\n", strings.Join(r, " | "))
	}
	return b.String()
}

// output collects a target's files: it writes them into the target's
// folder and remembers their names for the report.
type output struct {
	dir   string
	files []string
}

func (o *output) path(name string) string {
	o.files = append(o.files, name)
	return filepath.Join(o.dir, name)
}

// declare splits a primary finding whose Rule is its test into the
// report's declaration (Report.Primary: the claim tested and the rule,
// neither depending on a measured number) and the finding that reports
// its outcome, whose rule then points at the declaration.
func declare(f Finding) (Finding, string) {
	d := f.Claim + "\n\n**Test:** " + f.Rule
	f.Role, f.Rule = RolePrimary, "as declared above"
	return f, d
}
