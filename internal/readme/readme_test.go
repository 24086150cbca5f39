package readme

// The documentation's code, checked as written.
//
// Go blocks: every ```go block of the documents below is the body of a
// function, after its own import declarations (the convention stated in
// README.md, "Examples in this README"). The test writes each block as a file of
// one package main in a temporary folder inside the module (so that the
// module's packages resolve; the folder starts with "_", which ./...
// patterns skip, and is removed afterwards), builds it with `go build`, and
// runs every block in a fresh temporary working directory. A compile error
// names the README's own line (//line directives).
//
// Commands: the ```sh blocks are run line by line, in the order of the
// documents, in one fresh working directory with the freshly built
// paretodiff first on PATH, at a tiny size:
//
//   - `go run ./cmd/paretodiff` is the built paretodiff;
//   - demo gets --size smoke (its hidden test size) and reproduce
//     --scale smoke, in place of quick or paper (every --scale of the line:
//     a pipeline of reproduce plan and reproduce train-one);
//   - train and conflict (while training) get --steps N/1000 (at least 1;
//     5 where --steps is not given) and --every N/1000 (at least 1);
//   - an input named as .../step-NNNNNNNN.npy is the last such file in its
//     folder (the step numbers shrink with the sizes).
//
// Not run, with the reason printed: lines that need a GPU (--device cuda),
// a cluster (sbatch, kubectl, bash scripts/slurm/...), the network (go
// install), a second build of the repository (go build,
// go test, scripts/gpu-check.sh and what it builds) or minutes of training
// (go run ./notebooks/NAME: each notebook's own test runs it at smoke
// scale; here only its folder is checked). For every command, run or not,
// the test also checks statically that each input it names (--checkpoint,
// --gram, --grads, --losses, the folder of --resume) is written by an
// earlier example, and that no two examples write the same --out unless
// the later one resumes it (or both are reproduce, which shares its model
// cache on purpose).

import (
	"bufio"
	"context"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// docs are the documents whose code blocks are checked, relative to the
// module root, in the order their commands run.
var docs = []string{"README.md", "docs/design.md", "notebooks/README.md"}

// block is one fenced code block of a document.
type block struct {
	file string // the document, relative to the module root
	line int    // line of the block's first line in the document
	lang string // the fence's info string: "go", "sh", ""
	text string
}

func (b block) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// readBlocks returns the fenced code blocks of a document.
func readBlocks(root, doc string) ([]block, error) {
	f, err := os.Open(filepath.Join(root, doc))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		out  []block
		cur  *block
		body []string
		n    int
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if !strings.HasPrefix(trimmed, "```") {
			if cur != nil {
				body = append(body, line)
			}
			continue
		}
		if cur == nil {
			cur = &block{file: doc, line: n + 1, lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))}
			body = nil
			continue
		}
		cur.text = strings.Join(body, "\n")
		out = append(out, *cur)
		cur = nil
	}
	if cur != nil {
		return nil, fmt.Errorf("%s: unclosed code block", cur)
	}
	return out, sc.Err()
}

// moduleRoot is the folder of go.mod above the test's working directory.
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("not inside the module (a copied test binary): no README to check")
		}
		dir = parent
	}
}

// allBlocks returns the blocks of one language of every document, in order.
func allBlocks(root, lang string) ([]block, error) {
	var out []block
	for _, d := range docs {
		bs, err := readBlocks(root, d)
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			if b.lang == lang {
				out = append(out, b)
			}
		}
	}
	return out, nil
}

// goCommand is the go command, or a skip where there is none.
func goCommand(t *testing.T) string {
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH: the README's code is built with it")
	}
	return gocmd
}

// splitGo splits a ```go block into its leading import declarations (with
// the comments and blank lines among them) and the function body after them.
func splitGo(b block) (head, body []string, err error) {
	lines := strings.Split(b.text, "\n")
	i := 0
	for i < len(lines) {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "//") {
			head = append(head, lines[i])
			i++
			continue
		}
		if strings.HasPrefix(l, "import (") {
			for i < len(lines) {
				head = append(head, lines[i])
				i++
				if strings.TrimSpace(lines[i-1]) == ")" {
					break
				}
			}
			continue
		}
		if strings.HasPrefix(l, "import ") {
			head = append(head, lines[i])
			i++
			continue
		}
		break
	}
	if i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "package ") {
		return nil, nil, fmt.Errorf("%s: a ```go block is the body of a function after its imports (README.md, \"Examples in this README\"), not a file with a package clause", b)
	}
	if strings.Contains(b.text, "paretodiff/internal/") {
		return nil, nil, fmt.Errorf("%s: a README block imports an internal package, which programs outside the module cannot", b)
	}
	return head, lines[i:], nil
}

// goSource turns a ```go block into a file of package main in which the
// block's leading import declarations stay at file level and the rest is
// the body of func name; //line directives point at the document.
func goSource(b block, abs, name string) (string, error) {
	head, body, err := splitGo(b)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("package main\n\n//line %s:%d\n%s\n\nfunc %s() {\n//line %s:%d\n%s\n}\n",
		abs, b.line, strings.Join(head, "\n"), name, abs, b.line+len(head), strings.Join(body, "\n")), nil
}

// gofmtBlock returns the block as gofmt writes it: its imports, then its
// body formatted as the body of a function, one indentation level less.
func gofmtBlock(b block) (string, error) {
	head, body, err := splitGo(b)
	if err != nil {
		return "", err
	}
	const open, close = "func main() {\n", "\n}\n"
	var src strings.Builder
	fmt.Fprintf(&src, "package main\n\n%s\n\n%s", strings.Join(head, "\n"), open)
	for _, l := range body {
		if l != "" {
			src.WriteString("\t" + l)
		}
		src.WriteString("\n")
	}
	src.WriteString(close)
	out, err := format.Source([]byte(src.String()))
	if err != nil {
		return "", fmt.Errorf("%s: %v", b, err)
	}
	f := strings.TrimPrefix(string(out), "package main\n")
	at := strings.Index(f, open)
	imports := strings.TrimSpace(f[:at])
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(f[at+len(open):], close), "\n") {
		lines = append(lines, strings.TrimPrefix(l, "\t"))
	}
	code := strings.TrimSpace(strings.Join(lines, "\n"))
	if imports == "" {
		return code, nil
	}
	return imports + "\n\n" + code, nil
}

// built is what build makes once per test binary.
var built struct {
	once   sync.Once
	bin    string  // folder of the binaries: paretodiff and blocks
	blocks []block // the go blocks, in the order of blockN
	err    error
}

// build builds the paretodiff command and one program holding every ```go
// block (run as `blocks N`) with a single go build.
func build(t *testing.T) (bin string, blocks []block) {
	gocmd := goCommand(t)
	root := moduleRoot(t)
	built.once.Do(func() {
		if built.blocks, built.err = allBlocks(root, "go"); built.err != nil {
			return
		}
		built.bin, built.err = os.MkdirTemp("", "readme-bin-")
		if built.err != nil {
			return
		}
		src, err := os.MkdirTemp(root, "_readme-test-")
		if err != nil {
			built.err = err
			return
		}
		defer os.RemoveAll(src)
		prog := filepath.Join(src, "blocks")
		if built.err = os.Mkdir(prog, 0o755); built.err != nil {
			return
		}
		var dispatch strings.Builder
		dispatch.WriteString("package main\n\nimport (\n\t\"os\"\n\t\"strconv\"\n)\n\nvar blocks = []func(){")
		for i, b := range built.blocks {
			name := fmt.Sprintf("block%d", i)
			code, err := goSource(b, filepath.Join(root, b.file), name)
			if err != nil {
				built.err = err
				return
			}
			if built.err = os.WriteFile(filepath.Join(prog, name+".go"), []byte(code), 0o644); built.err != nil {
				return
			}
			dispatch.WriteString(name + ", ")
		}
		dispatch.WriteString("}\n\nfunc main() {\n\ti, _ := strconv.Atoi(os.Args[1])\n\tblocks[i]()\n}\n")
		if built.err = os.WriteFile(filepath.Join(prog, "main.go"), []byte(dispatch.String()), 0o644); built.err != nil {
			return
		}
		cmd := exec.Command(gocmd, "build", "-o", built.bin+string(filepath.Separator), "./cmd/paretodiff", "./"+filepath.Base(src)+"/blocks")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build of the paretodiff command and the documents' go blocks: %v\n%s", err, out)
		}
	})
	require.NoError(t, built.err)
	return built.bin, built.blocks
}

// TestMain removes the binaries' folder.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.bin != "" {
		os.RemoveAll(built.bin)
	}
	os.Exit(code)
}

// TestGoBlocksFormatted checks that every ```go block is as gofmt writes
// it (the imports, then the body as the body of a function).
func TestGoBlocksFormatted(t *testing.T) {
	root := moduleRoot(t)
	blocks, err := allBlocks(root, "go")
	require.NoError(t, err)
	for _, b := range blocks {
		want, err := gofmtBlock(b)
		require.NoError(t, err)
		have := strings.Split(strings.TrimSpace(b.text), "\n")
		for i, w := range strings.Split(want, "\n") {
			if i >= len(have) || have[i] != w {
				t.Errorf("%s:%d: the block is not as gofmt writes it; from this line on gofmt writes\n%s", b.file, b.line+i,
					strings.Join(strings.Split(want, "\n")[i:], "\n"))
				break
			}
		}
	}
}

// TestGoBlocks builds every ```go block and runs each in a fresh folder.
func TestGoBlocks(t *testing.T) {
	bin, blocks := build(t)
	require.NotEmpty(t, blocks, "README.md has go blocks")
	if testing.Short() {
		t.Skip("-short: built, not run")
	}
	for i, b := range blocks {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(bin, "blocks"), strconv.Itoa(i))
			cmd.Dir = t.TempDir()
			start := time.Now()
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s (the block's output:)\n%s", b, out)
			t.Logf("%s ran in %v:\n%s", b, time.Since(start).Round(time.Millisecond), out)
		})
	}
}

// command is one line of a ```sh block.
type command struct {
	block
	args []string // the line's words, comment left out
}

func (c command) String() string { return fmt.Sprintf("%s: %s", c.block, strings.Join(c.args, " ")) }

// commands returns the command lines of the documents' ```sh blocks.
func commands(t *testing.T, root string) []command {
	blocks, err := allBlocks(root, "sh")
	require.NoError(t, err)
	var out []command
	for _, b := range blocks {
		for j, line := range strings.Split(b.text, "\n") {
			args := words(line)
			if len(args) == 0 {
				continue
			}
			if len(args) >= 3 && args[0] == "go" && args[1] == "run" && args[2] == "./cmd/paretodiff" {
				args = append([]string{"paretodiff"}, args[3:]...)
			}
			lb := b
			lb.line += j
			lb.text = line
			out = append(out, command{block: lb, args: args})
		}
	}
	return out
}

// words splits a shell line into words, quotes kept: quotes group, an
// unquoted # after a space starts a comment.
func words(line string) []string {
	var (
		out    []string
		cur    strings.Builder
		quote  rune // the open quote, 0 outside quotes
		inWord bool
	)
	for i, r := range line {
		quoted := quote != 0
		switch {
		case r == '\'' || r == '"':
			if quote == 0 {
				quote = r
			} else if quote == r {
				quote = 0
			}
			inWord = true
			cur.WriteRune(r)
		case !quoted && r == '#' && (i == 0 || line[i-1] == ' '):
			if inWord {
				out = append(out, cur.String())
			}
			return out
		case !quoted && (r == ' ' || r == '\t'):
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// flag returns the value of --name in args ("--name v" or "--name=v").
func flag(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// setFlag sets --name to v in args, appending it when absent.
func setFlag(args []string, name, v string) []string {
	for i, a := range args {
		if a == "--"+name && i+1 < len(args) {
			args[i+1] = v
			return args
		}
		if strings.HasPrefix(a, "--"+name+"=") {
			args[i] = "--" + name + "=" + v
			return args
		}
	}
	return append(args, "--"+name, v)
}

// setEveryFlag sets every --name of args to v (a line may pipe one
// command into another), appending it when absent.
func setEveryFlag(args []string, name, v string) []string {
	found := false
	for i, a := range args {
		switch {
		case a == "--"+name && i+1 < len(args):
			args[i+1], found = v, true
		case strings.HasPrefix(a, "--"+name+"="):
			args[i], found = "--"+name+"="+v, true
		}
	}
	if !found {
		args = append(args, "--"+name, v)
	}
	return args
}

// shrink divides a step count by 1000, keeping at least 1.
func shrink(t *testing.T, c command, v string) string {
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "%s: a step count", c)
	return strconv.Itoa(max(1, n/1000))
}

// tiny returns the command as the test runs it, or a reason not to run it.
func tiny(t *testing.T, c command) (args []string, skip string) {
	args = append([]string(nil), c.args...)
	if d, _ := flag(args, "device"); d == "cuda" {
		return nil, "needs a GPU"
	}
	switch {
	case args[0] == "sbatch" || args[0] == "kubectl" || args[0] == "bash" && len(args) > 1 && strings.HasPrefix(args[1], "scripts/slurm/"):
		return nil, "needs a cluster (Slurm or Kubernetes)"
	case args[0] == "go" && len(args) > 1 && args[1] == "install":
		return nil, "needs the network"
	case args[0] == "go" && len(args) > 1 && (args[1] == "build" || args[1] == "test"):
		return nil, "builds or tests the whole repository"
	case args[0] == "go" && len(args) > 2 && args[1] == "run" && strings.HasPrefix(args[2], "./notebooks/"):
		return nil, "a notebook: its own main_test.go runs it at smoke scale"
	case strings.HasPrefix(args[0], "scripts/") || strings.HasPrefix(args[0], "dist/"):
		return nil, "the GPU check's build and its run on a GPU machine"
	case args[0] != "paretodiff":
		return args, ""
	}
	if len(args) < 2 {
		return args, ""
	}
	switch args[1] {
	case "demo":
		args = append(args, "--size", "smoke", "--quiet")
	case "reproduce":
		args = setEveryFlag(args, "scale", "smoke")
	case "train", "conflict":
		if _, ok := flag(args, "checkpoint"); ok {
			break
		}
		steps, ok := flag(args, "steps")
		if !ok {
			steps = "5000"
		}
		args = setFlag(args, "steps", shrink(t, c, steps))
		if every, ok := flag(args, "every"); ok {
			args = setFlag(args, "every", shrink(t, c, every))
		}
	}
	return args, ""
}

// stepFile matches the probe logs' matrix files, named by the step.
var stepFile = regexp.MustCompile(`step-\d{8}\.npy$`)

// inputFlags are the flags that name a file or folder a command reads.
var inputFlags = []string{"checkpoint", "gram", "grads", "losses"}

// TestCommands runs the documents' command examples in order at a tiny
// size (see the top of this file) and checks that every input is made by
// an earlier example and no two examples write the same folder.
func TestCommands(t *testing.T) {
	root := moduleRoot(t)
	cmds := commands(t, root)
	require.NotEmpty(t, cmds)

	// The static checks, over every command, run or not.
	written := map[string]command{} // output path → the example that writes it
	producedBy := func(path string) (command, bool) {
		for p := filepath.Clean(path); p != "." && p != "/"; p = filepath.Dir(p) {
			if c, ok := written[p]; ok {
				return c, true
			}
		}
		return command{}, false
	}
	for _, c := range cmds {
		args := c.args
		for i, a := range args {
			if a == ">" && i+1 < len(args) {
				written[filepath.Clean(args[i+1])] = c
			}
		}
		if args[0] == "go" && len(args) > 2 && args[1] == "run" && strings.HasPrefix(args[2], "./notebooks/") {
			_, err := os.Stat(filepath.Join(root, args[2], "main.go"))
			require.NoError(t, err, "%s: the notebook exists", c)
		}
		var reads []string
		for _, f := range inputFlags {
			if v, ok := flag(args, f); ok {
				reads = append(reads, v)
			}
		}
		out, hasOut := flag(args, "out")
		resume := false
		for _, a := range args {
			resume = resume || a == "--resume"
		}
		if resume {
			reads = append(reads, out)
		}
		for _, r := range reads {
			_, ok := producedBy(r)
			require.True(t, ok, "%s: reads %s, which no earlier example writes", c, r)
		}
		if hasOut && !resume {
			prev, ok := written[filepath.Clean(out)]
			// reproduce shares its folder on purpose: the model cache.
			again := ok && subcommand(c.args) == "reproduce" && subcommand(prev.args) == "reproduce"
			require.True(t, !ok || again, "%s: writes --out %s, which %s writes too", c, out, prev)
			written[filepath.Clean(out)] = c
		}
		if subcommand(args) == "demo" && !hasOut {
			written["demo-out"] = c
		}
		if args[0] == "scripts/gpu-check.sh" {
			written["dist/gpu-check"] = c
		}
	}

	if testing.Short() {
		t.Skip("-short: the commands were checked, not run")
	}
	bin, _ := build(t)
	work := t.TempDir()
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, c := range cmds {
		args, skip := tiny(t, c)
		if skip != "" {
			t.Logf("%s: not run (%s)", c, skip)
			continue
		}
		for i, a := range args {
			if i > 0 && slices.Contains(inputFlags, strings.TrimPrefix(args[i-1], "--")) && stepFile.MatchString(a) {
				args[i] = lastStepFile(t, c, filepath.Join(work, a))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, "sh", "-c", strings.Join(args, " "))
		cmd.Dir = work
		cmd.Env = env
		start := time.Now()
		out, err := cmd.CombinedOutput()
		cancel()
		require.NoError(t, err, "%s, run as %q:\n%s", c, strings.Join(args, " "), out)
		t.Logf("%s: ran as %q in %v", c, strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	}
}

// subcommand is the paretodiff subcommand of a command line ("" for
// another program).
func subcommand(args []string) string {
	if len(args) > 1 && args[0] == "paretodiff" {
		return args[1]
	}
	return ""
}

// lastStepFile is the last step-NNNNNNNN.npy file in path's folder.
func lastStepFile(t *testing.T, c command, path string) string {
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err, "%s: the folder of %s", c, path)
	var names []string
	for _, e := range entries {
		if stepFile.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	require.NotEmpty(t, names, "%s: no step-NNNNNNNN.npy next to %s", c, path)
	sort.Strings(names)
	return filepath.Join(filepath.Dir(path), names[len(names)-1])
}
