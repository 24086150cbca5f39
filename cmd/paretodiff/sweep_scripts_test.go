package main

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// The sweep's job files, relative to this package's folder.
const (
	slurmScript = "../../scripts/slurm/reproduce-array.sbatch"
	k8sJob      = "../../deploy/k8s/reproduce-indexed-job.yaml"
)

// repoFile returns the path of a file of the repository, skipping where
// the tree is not here (a test binary copied to a GPU machine).
func repoFile(t *testing.T, rel string) string {
	p, err := filepath.Abs(rel)
	require.NoError(t, err)
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s is not here (a copied test binary)", rel)
	}
	return p
}

// cliShim writes an executable named paretodiff into a new folder that
// runs this test binary as the command, and returns the folder.
func cliShim(t *testing.T) string {
	exe, err := os.Executable()
	require.NoError(t, err)
	bin := t.TempDir()
	shim := "#!/bin/sh\n" + childEnv + "=1 exec " + strconv.Quote(exe) + " \"$@\"\n"
	require.NoError(t, os.WriteFile(filepath.Join(bin, "paretodiff"), []byte(shim), 0o755))
	return bin
}

// smokePlanSize is the number of runs of all at smoke scale.
func smokePlanSize(t *testing.T) int {
	plan, err := reproduce.Plan(&reproduce.Env{Scale: reproduce.Smoke, Seed: 1}, reproduce.Targets())
	require.NoError(t, err)
	return len(plan)
}

// The Slurm script parses (bash -n); run outside Slurm (sbatch replaced by
// a stand-in that logs its arguments) it submits itself as an array of one
// task per line of the plan and then itself as the analysis, after the
// array; as each array task it trains that run; as the analysis job it
// finds every run in the cache.
func TestSlurmScript(t *testing.T) {
	script := repoFile(t, slurmScript)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	out, err := exec.Command("bash", "-n", script).CombinedOutput()
	require.NoError(t, err, "%s", out)

	bin := cliShim(t)
	sbatchLog := filepath.Join(t.TempDir(), "sbatch.log")
	fake := "#!/bin/sh\necho \"$*\" >> \"$SBATCH_LOG\"\necho \"$((1000 + $(wc -l < \"$SBATCH_LOG\")));cluster\"\n"
	require.NoError(t, os.WriteFile(filepath.Join(bin, "sbatch"), []byte(fake), 0o755))
	work := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLURM_") {
			env = append(env, kv)
		}
	}
	env = append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "SBATCH_LOG="+sbatchLog,
		"SCALE=smoke", "DEVICE=cpu", "OUT="+filepath.Join(work, "repro"), "ARRAY_LIMIT=4")
	sh := func(extra ...string) string {
		c := exec.Command("bash", script)
		c.Dir, c.Env = work, append(append([]string(nil), env...), extra...)
		out, err := c.CombinedOutput()
		require.NoError(t, err, "%v: %s", extra, out)
		return string(out)
	}

	n := smokePlanSize(t)
	said := sh()
	raw, err := os.ReadFile(sbatchLog)
	require.NoError(t, err)
	require.Equal(t, "--parsable --array=0-"+strconv.Itoa(n-1)+"%4 "+script+"\n"+
		"--parsable --dependency=afterok:1001 "+script+"\n", string(raw))
	require.Contains(t, said, "array job 1001: "+strconv.Itoa(n)+" tasks")
	require.Contains(t, said, "analysis job 1002")

	for i := range n {
		said = sh("SLURM_JOB_ID=1001", "SLURM_ARRAY_JOB_ID=1001", "SLURM_ARRAY_TASK_ID="+strconv.Itoa(i))
		require.Contains(t, said, "run "+strconv.Itoa(i)+" ")
	}
	said = sh("SLURM_JOB_ID=1002")
	require.NotContains(t, said, "step 20/40", "the analysis trains nothing")
	rep, err := os.ReadFile(filepath.Join(work, "repro", "fig5", "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(rep), "(0 models trained")
	_, err = os.Stat(filepath.Join(work, "repro", "index.md"))
	require.NoError(t, err)
}

// k8sDoc is one document of the Kubernetes file, as far as the test reads it.
type k8sDoc struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		CompletionMode   string `yaml:"completionMode"`
		Completions      int    `yaml:"completions"`
		Parallelism      int    `yaml:"parallelism"`
		Suspend          bool   `yaml:"suspend"`
		PodFailurePolicy struct {
			Rules []struct {
				Action      string `yaml:"action"`
				OnExitCodes *struct {
					ContainerName string `yaml:"containerName"`
					Values        []int  `yaml:"values"`
				} `yaml:"onExitCodes"`
			} `yaml:"rules"`
		} `yaml:"podFailurePolicy"`
		Template struct {
			Spec struct {
				RestartPolicy string `yaml:"restartPolicy"`
				Containers    []struct {
					Name    string   `yaml:"name"`
					Command []string `yaml:"command"`
					Args    []string `yaml:"args"`
					Env     []struct {
						Name, Value string
					} `yaml:"env"`
					Resources struct {
						Limits map[string]string `yaml:"limits"`
					} `yaml:"resources"`
					VolumeMounts []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
				Volumes []struct {
					Name string `yaml:"name"`
					PVC  struct {
						ClaimName string `yaml:"claimName"`
					} `yaml:"persistentVolumeClaim"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// The Kubernetes file parses as a claim, an Indexed Job of one completion
// per run of the paper scale's plan and a suspended analysis Job, both on
// the claim; their commands, run at smoke scale on a local folder (the
// training one once per index, with JOB_COMPLETION_INDEX), train the plan
// and then analyse without training.
func TestKubernetesJob(t *testing.T) {
	raw, err := os.ReadFile(repoFile(t, k8sJob))
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(false)
	docs := map[string]k8sDoc{}
	for {
		var d k8sDoc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		docs[d.Kind+"/"+d.Metadata.Name] = d
	}
	require.Len(t, docs, 3)
	pvc, ok := docs["PersistentVolumeClaim/paretodiff-reproduce"]
	require.True(t, ok)
	train, ok := docs["Job/paretodiff-reproduce-train"]
	require.True(t, ok)
	analysis, ok := docs["Job/paretodiff-reproduce-analysis"]
	require.True(t, ok)

	paper, err := reproduce.Plan(&reproduce.Env{Scale: reproduce.Paper, Seed: 1}, reproduce.Targets())
	require.NoError(t, err)
	require.Equal(t, "Indexed", train.Spec.CompletionMode)
	require.Equal(t, len(paper), train.Spec.Completions, "completions: the lines of `paretodiff reproduce plan all --scale paper`")
	require.Positive(t, train.Spec.Parallelism)
	require.True(t, analysis.Spec.Suspend, "the analysis waits to be resumed")

	// Each Job: one container with a GPU on the claim, its command a shell
	// line that execs paretodiff (so that it gets SIGTERM).
	lines := map[string]string{}
	mount := ""
	for name, j := range map[string]k8sDoc{"train": train, "analysis": analysis} {
		ps := j.Spec.Template.Spec
		require.Equal(t, "Never", ps.RestartPolicy, name)
		require.Len(t, ps.Containers, 1, name)
		c := ps.Containers[0]
		require.Equal(t, []string{"sh", "-c"}, c.Command, name)
		require.Len(t, c.Args, 1, name)
		require.True(t, strings.HasPrefix(c.Args[0], "exec paretodiff reproduce "), name)
		require.Equal(t, "1", c.Resources.Limits["nvidia.com/gpu"], name)
		require.Len(t, ps.Volumes, 1)
		require.Equal(t, pvc.Metadata.Name, ps.Volumes[0].PVC.ClaimName, name)
		require.Equal(t, ps.Volumes[0].Name, c.VolumeMounts[0].Name, name)
		mount = c.VolumeMounts[0].MountPath
		require.Equal(t, "PARETODIFF_CACHE", c.Env[0].Name)
		require.True(t, strings.HasPrefix(c.Env[0].Value, mount+"/"), "the classifier cache is on the claim")
		lines[name] = c.Args[0]
		if name == "train" {
			for _, r := range j.Spec.PodFailurePolicy.Rules {
				if r.OnExitCodes != nil {
					require.Equal(t, c.Name, r.OnExitCodes.ContainerName)
					require.Equal(t, []int{2}, r.OnExitCodes.Values, "bad input fails its index")
				}
			}
		}
	}
	require.Contains(t, lines["train"], `--index "$JOB_COMPLETION_INDEX"`)
	require.Contains(t, lines["analysis"], " --cached-only ")
	for _, l := range lines {
		require.Contains(t, l, " all --scale paper --seed 1 ")
		require.Contains(t, l, " --device cuda ")
		require.Contains(t, l, " --out "+mount+"/")
	}

	// The same lines at smoke scale, on the CPU, in a local folder.
	bin := cliShim(t)
	data := t.TempDir()
	tiny := func(l string) string {
		return strings.NewReplacer("--scale paper", "--scale smoke", "--device cuda", "--device cpu", mount+"/", data+"/").Replace(l)
	}
	run := func(line string, env ...string) string {
		c := exec.Command("sh", "-c", tiny(line))
		c.Env = append(append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH")), env...)
		out, err := c.CombinedOutput()
		require.NoError(t, err, "%s: %s", tiny(line), out)
		return string(out)
	}
	for i := range smokePlanSize(t) {
		run(lines["train"], "JOB_COMPLETION_INDEX="+strconv.Itoa(i))
	}
	said := run(lines["analysis"])
	require.NotContains(t, said, "step 20/40", "the analysis trains nothing")
	out := strings.Fields(strings.SplitAfter(tiny(lines["analysis"]), " --out ")[1])[0]
	rep, err := os.ReadFile(filepath.Join(out, "fig5", "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(rep), "(0 models trained")
}

// MODEL=dit reaches plan and train-one alike: the script submits an array
// of the DiT plan's size (the ResMLP's: the indices do not depend on the
// model), and a task trains that index's DiT run.
func TestSlurmScriptDiT(t *testing.T) {
	script := repoFile(t, slurmScript)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	needMNIST(t)
	bin := cliShim(t)
	sbatchLog := filepath.Join(t.TempDir(), "sbatch.log")
	fake := "#!/bin/sh\necho \"$*\" >> \"$SBATCH_LOG\"\necho \"$((1000 + $(wc -l < \"$SBATCH_LOG\")));cluster\"\n"
	require.NoError(t, os.WriteFile(filepath.Join(bin, "sbatch"), []byte(fake), 0o755))
	work := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLURM_") {
			env = append(env, kv)
		}
	}
	env = append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "SBATCH_LOG="+sbatchLog,
		"SCALE=smoke", "MODEL=dit", "DEVICE=cpu", "OUT="+filepath.Join(work, "repro"), "PARETODIFF_CACHE="+t.TempDir())
	sh := func(extra ...string) string {
		c := exec.Command("bash", script)
		c.Dir, c.Env = work, append(append([]string(nil), env...), extra...)
		out, err := c.CombinedOutput()
		require.NoError(t, err, "%v: %s", extra, out)
		return string(out)
	}
	plan, err := reproduce.Plan(&reproduce.Env{Scale: reproduce.Smoke, Model: "dit", Seed: 1}, reproduce.Targets())
	require.NoError(t, err)
	require.Equal(t, smokePlanSize(t), len(plan))
	said := sh()
	require.Contains(t, said, "array job 1001: "+strconv.Itoa(len(plan))+" tasks")
	require.Contains(t, said, "--model dit")
	said = sh("SLURM_JOB_ID=1001", "SLURM_ARRAY_JOB_ID=1001", "SLURM_ARRAY_TASK_ID=0")
	require.Contains(t, said, "run 0 "+plan[0].Key)
	require.DirExists(t, filepath.Join(work, "repro", "models", plan[0].Key))
}
