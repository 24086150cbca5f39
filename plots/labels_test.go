package plots

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// figureTypes are the plots types whose fields hold text that is drawn.
var figureTypes = []string{"Lines", "Series", "Scatter", "Heatmap", "Grid"}

// textFields are those fields.
var textFields = []string{"Title", "XLabel", "YLabel", "Name", "Labels", "RowLabels"}

// figureTexts returns, by position, the string constants that the Go files
// of the module (tests, testdata and notebooks' outputs aside) put into
// figures: the text fields of plots composite literals and assignments to
// them, and to gonum's Title.Text and Label.Text, with the literal parts of
// the expressions (concatenations, fmt formats and the values assigned to a
// variable used there).
func figureTexts(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		inPlots := f.Name.Name == "plots"
		isFigureType := func(e ast.Expr) bool {
			switch e := e.(type) {
			case *ast.SelectorExpr:
				x, ok := e.X.(*ast.Ident)
				return ok && x.Name == "plots" && slices.Contains(figureTypes, e.Sel.Name)
			case *ast.Ident:
				return inPlots && slices.Contains(figureTypes, e.Name)
			}
			return false
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			// figureVars are the variables the function makes figure
			// values of.
			figureVars := map[string]bool{}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if as, ok := n.(*ast.AssignStmt); ok {
					for i, rhs := range as.Rhs {
						if cl, ok := rhs.(*ast.CompositeLit); ok && isFigureType(cl.Type) && i < len(as.Lhs) {
							if id, ok := as.Lhs[i].(*ast.Ident); ok {
								figureVars[id.Name] = true
							}
						}
					}
				}
				return true
			})
			add := func(e ast.Expr) {
				for _, s := range literals(fn.Body, e, 0) {
					out[fset.Position(e.Pos()).String()+": "+s] = s
				}
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CompositeLit:
					if !isFigureType(n.Type) {
						return true
					}
					for _, el := range n.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							if k, ok := kv.Key.(*ast.Ident); ok && slices.Contains(textFields, k.Name) {
								add(kv.Value)
							}
						}
					}
				case *ast.AssignStmt:
					for i, lhs := range n.Lhs {
						sel, ok := lhs.(*ast.SelectorExpr)
						if !ok || i >= len(n.Rhs) {
							continue
						}
						base, _ := sel.X.(*ast.Ident)
						gonumText := sel.Sel.Name == "Text" // p.Title.Text, p.X.Label.Text
						if gonumText || (base != nil && figureVars[base.Name] && slices.Contains(textFields, sel.Sel.Name)) {
							add(n.Rhs[i])
						}
					}
				}
				return true
			})
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

// literals returns the string constants in e: e itself, the parts of a
// concatenation, a fmt.Sprintf format and its arguments, and what the
// function body assigns to a variable e names.
func literals(body *ast.BlockStmt, e ast.Expr, depth int) []string {
	if depth > 4 {
		return nil
	}
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			if s, err := strconv.Unquote(e.Value); err == nil {
				return []string{s}
			}
		}
	case *ast.BinaryExpr:
		return append(literals(body, e.X, depth+1), literals(body, e.Y, depth+1)...)
	case *ast.ParenExpr:
		return literals(body, e.X, depth+1)
	case *ast.CallExpr:
		var out []string
		if sel, ok := e.Fun.(*ast.SelectorExpr); ok {
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "fmt" {
				for _, a := range e.Args {
					out = append(out, literals(body, a, depth+1)...)
				}
			}
		}
		return out
	case *ast.Ident:
		var out []string
		ast.Inspect(body, func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok {
				return true
			}
			for i, lhs := range as.Lhs {
				if id, ok := lhs.(*ast.Ident); ok && id.Name == e.Name && i < len(as.Rhs) {
					out = append(out, literals(body, as.Rhs[i], depth+1)...)
				}
			}
			return true
		})
		return out
	}
	return nil
}

// TestFigureTextsHaveGlyphs: every rune of every title, axis label and
// series name the code draws is in the figures' font (gonum's Liberation
// Serif, which has no ∇, for one).
func TestFigureTextsHaveGlyphs(t *testing.T) {
	texts := figureTexts(t, "..")
	var all []string
	for _, s := range texts {
		all = append(all, s)
	}
	// The scan sees labels of every figure-drawing package.
	for _, want := range []string{"γ (log scale)", "‖grad L_k‖ = √G_kk (log scale)", "duality gap by iteration", "x0-MSE (log scale)", " λ=%g"} {
		require.Contains(t, all, want)
	}
	for pos, s := range texts {
		require.Empty(t, MissingGlyphs(s), "%s: %q has runes the font lacks", pos, s)
	}
}
