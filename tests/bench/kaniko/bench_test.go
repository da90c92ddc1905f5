//go:build bench

// Package kanikobench compares the kaniko-build Task's Kaniko step, run as
// the Task declares it (tests/kaniko), with BuildKit (warm daemon, runc
// worker, overlayfs) and buildah (overlay driver, runc) on the same
// contexts: cold, warm, and after a code-only edit. It prints a table; it
// asserts nothing about time. Run it with `make bench-kaniko`.
package kanikobench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/knative-lambda/lambda-builder/tests/harness"
	kanikotest "github.com/knative-lambda/lambda-builder/tests/kaniko"
)

// Runs per cell; the table shows the median.
const runs = 3

// A context is a Dockerfile and its files; edit is the code-only change.
type benchContext struct {
	name  string
	bases []string
	files map[string]string
	edit  string // file rewritten for the "edit" case
}

var contexts = []benchContext{
	{name: "python", bases: []string{"python"}, edit: "app.py", files: map[string]string{
		"Dockerfile": `ARG BASE_REGISTRY
FROM ${BASE_REGISTRY}/library/python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN python3 -m venv /venv && /venv/bin/pip install --no-index -r requirements.txt
COPY app.py .
USER 65532
CMD ["/venv/bin/python", "/app/app.py"]
`,
		"requirements.txt": "\n",
		"app.py":           "print('hello')\n",
	}},
	{name: "busybox", bases: []string{"busybox"}, edit: "app.sh", files: map[string]string{
		"Dockerfile": `ARG BASE_REGISTRY
FROM ${BASE_REGISTRY}/library/busybox:1.36
COPY deps.txt /app/deps.txt
RUN sort /app/deps.txt > /app/installed
COPY app.sh /app/app.sh
CMD ["/app/app.sh"]
`,
		"deps.txt": "b\na\n",
		"app.sh":   "#!/bin/sh\necho hi\n",
	}},
}

// measure is one build: wall time, peak RSS, and where Kaniko spent it.
type measure struct {
	wall   time.Duration
	rss    int64
	phases map[string]time.Duration
}

type builder interface {
	name() string
	// build runs one build of dir pushed to image; fresh drops every cache first.
	build(t *testing.T, dir, image string, fresh bool) measure
}

func TestBench(t *testing.T) {
	reg := harness.StartRegistry(t)
	env := kanikotest.Setup(t, reg)
	env.Runner.MeasureRSS = true
	bases := &kanikotest.Bases{Registry: reg.Host}
	builders := []builder{
		&kanikoBuilder{env: env, reg: reg.Host, reproducible: false},
		&kanikoBuilder{env: env, reg: reg.Host, reproducible: true},
		startBuildKit(t, reg.Host),
		newBuildah(t, reg.Host),
	}
	type cell struct{ ctx, kind, builder string }
	results := map[cell][]measure{}
	for _, c := range contexts {
		if err := bases.Need(context.Background(), c.bases...); err != nil {
			t.Fatal(err)
		}
		for _, b := range builders {
			for i := range runs {
				dir := writeFiles(t, c.files)
				image := fmt.Sprintf("%s/bench/%s-%s-%d", reg.Host, c.name, strings.NewReplacer(" ", "-", "=", "-").Replace(strings.ToLower(b.name())), i)
				results[cell{c.name, "cold", b.name()}] = append(results[cell{c.name, "cold", b.name()}], b.build(t, dir, image+":cold", true))
				results[cell{c.name, "warm", b.name()}] = append(results[cell{c.name, "warm", b.name()}], b.build(t, dir, image+":warm", false))
				os.WriteFile(filepath.Join(dir, c.edit), []byte(c.files[c.edit]+"# edit\n"), 0o755)
				results[cell{c.name, "edit", b.name()}] = append(results[cell{c.name, "edit", b.name()}], b.build(t, dir, image+":edit", false))
			}
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nKaniko (the Task's step under runc, its defaults, then REPRODUCIBLE=true) vs BuildKit %s vs buildah; median of %d, wall s / peak RSS MB\n", buildkitVersion, runs)
	fmt.Fprintf(&sb, "| context | case |")
	for _, b := range builders {
		fmt.Fprintf(&sb, " %s |", b.name())
	}
	fmt.Fprintf(&sb, " Kaniko phases (median s) |\n|---|---|")
	for range builders {
		sb.WriteString("---|")
	}
	sb.WriteString("---|\n")
	for _, c := range contexts {
		for _, kind := range []string{"cold", "warm", "edit"} {
			fmt.Fprintf(&sb, "| %s | %s |", c.name, kind)
			for _, b := range builders {
				m := results[cell{c.name, kind, b.name()}]
				fmt.Fprintf(&sb, " %.2f / %d |", median(m, func(x measure) float64 { return x.wall.Seconds() }), int64(median(m, func(x measure) float64 { return float64(x.rss) }))>>20)
			}
			fmt.Fprintf(&sb, " %s |\n", phases(results[cell{c.name, kind, "kaniko"}]))
		}
	}
	sb.WriteString("BuildKit RSS is the daemon's peak during the build (reset before each) plus buildctl's; Kaniko's and buildah's the largest process of the build.\n")
	fmt.Println(sb.String())
}

func median(ms []measure, f func(measure) float64) float64 {
	var v []float64
	for _, m := range ms {
		v = append(v, f(m))
	}
	sort.Float64s(v)
	if len(v) == 0 {
		return 0
	}
	return v[len(v)/2]
}

// phases summarises Kaniko's own timing (BENCHMARK_FILE): base retrieval and
// unpacking, snapshotting, push.
func phases(ms []measure) string {
	groups := []struct{ label, prefix string }{
		{"fetch", "Retrieving Source Image"}, {"unpack", "FS Unpacking"}, {"snapshot", "Snapshotting FS"},
		{"run", "Command: RUN"}, {"push", "Total Push Time"}, {"total", "Total Build Time"},
	}
	var parts []string
	for _, g := range groups {
		med := median(ms, func(m measure) float64 {
			var sum time.Duration
			for k, d := range m.phases {
				if strings.HasPrefix(k, g.prefix) {
					sum += d
				}
			}
			return sum.Seconds()
		})
		parts = append(parts, fmt.Sprintf("%s %.2f", g.label, med))
	}
	return strings.Join(parts, ", ")
}

func writeFiles(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// kanikoBuilder runs the Task's step; the only addition is Kaniko's
// BENCHMARK_FILE, written to the results folder to read its timings.
type kanikoBuilder struct {
	env          *kanikotest.Env
	reg          string
	reproducible bool // the REPRODUCIBLE param (the Task's default is false)
}

func (k *kanikoBuilder) name() string {
	if k.reproducible {
		return "kaniko REPRODUCIBLE=true"
	}
	return "kaniko"
}

func (k *kanikoBuilder) build(t *testing.T, dir, image string, fresh bool) measure {
	// Kaniko keeps nothing between runs but the registry cache, and each
	// round of cold/warm/edit pushes to its own repository: cold starts with
	// an empty <IMAGE repo>/cache, warm and edit reuse it.
	out := k.env.Run(context.Background(), t, kanikotest.Build{
		Params: map[string]pipelinev1.ParamValue{
			"IMAGE":        kanikotest.String(image),
			"BUILD_ARGS":   kanikotest.Array("BASE_REGISTRY=" + k.reg),
			"REPRODUCIBLE": kanikotest.String(strconv.FormatBool(k.reproducible)),
		},
		Source: dir,
		Adjust: func(st *kanikotest.Step) {
			st.Env = append(st.Env, corev1.EnvVar{Name: "BENCHMARK_FILE", Value: "/tekton/results/kaniko-timing"})
		},
	})
	if out.ExitCode != 0 {
		t.Fatalf("kaniko exit %d:\n%s", out.ExitCode, out.Log)
	}
	m := measure{wall: out.Wall, rss: out.MaxRSS, phases: map[string]time.Duration{}}
	var timing map[string]int64 // name -> nanoseconds
	if err := json.Unmarshal([]byte(out.Results["kaniko-timing"]), &timing); err == nil {
		for k, v := range timing {
			m.phases[k] = time.Duration(v)
		}
	}
	return m
}

const buildkitVersion = "v0.34.2"

// buildKit is a warm buildkitd with the runc worker on overlayfs.
type buildKit struct {
	proc   *harness.Process
	addr   string
	ctl    string
	reg    string
	pid    int
	tmpdir string
}

func startBuildKit(t *testing.T, reg string) *buildKit {
	dir := t.TempDir()
	config := fmt.Sprintf(`[worker.oci]
  enabled = true
  binary = "/usr/sbin/runc"
  snapshotter = "overlayfs"
[worker.containerd]
  enabled = false
[registry."%s"]
  http = true
  insecure = true
`, reg)
	os.WriteFile(filepath.Join(dir, "buildkitd.toml"), []byte(config), 0o644)
	addr := "unix://" + filepath.Join(dir, "buildkitd.sock")
	p := harness.Start(t, "buildkitd", []string{harness.Tool(t, "buildkitd"), "--config", filepath.Join(dir, "buildkitd.toml"),
		"--root", filepath.Join(dir, "root"), "--addr", addr})
	b := &buildKit{proc: p, addr: addr, ctl: harness.Tool(t, "buildctl"), reg: reg, pid: p.PID(), tmpdir: dir}
	p.WaitReady(t, 60*time.Second, func(ctx context.Context) error {
		return exec.CommandContext(ctx, b.ctl, "--addr", addr, "debug", "workers").Run()
	})
	return b
}

func (b *buildKit) name() string { return "buildkit" }

func (b *buildKit) build(t *testing.T, dir, image string, fresh bool) measure {
	if fresh {
		if out, err := exec.Command(b.ctl, "--addr", b.addr, "prune", "--all").CombinedOutput(); err != nil {
			t.Fatalf("buildctl prune: %v\n%s", err, out)
		}
	}
	// Reset the daemon's peak RSS so VmHWM is this build's.
	os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", b.pid), []byte("5"), 0o200)
	rssFile := filepath.Join(t.TempDir(), "maxrss")
	cmd := exec.Command(kanikotest.GNUTime, "-f", "%M", "-o", rssFile, b.ctl, "--addr", b.addr, "build", "--frontend", "dockerfile.v0",
		"--local", "context="+dir, "--local", "dockerfile="+dir,
		"--opt", "build-arg:BASE_REGISTRY="+b.reg,
		"--output", "type=image,name="+image+",push=true,registry.insecure=true")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		t.Fatalf("buildctl build: %v\n%s", err, out)
	}
	return measure{wall: wall, rss: vmHWM(b.pid) + kanikotest.ReadGNUTime(rssFile)}
}

func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// buildah runs Debian's buildah with the overlay driver and runc; its
// layer cache is its storage root, dropped for a cold run.
type buildah struct {
	bin, reg, dir string
	root          string
}

func newBuildah(t *testing.T, reg string) *buildah {
	return &buildah{bin: harness.Tool(t, "buildah"), reg: reg, dir: t.TempDir()}
}

func (b *buildah) name() string { return "buildah" }

func (b *buildah) build(t *testing.T, dir, image string, fresh bool) measure {
	if fresh || b.root == "" {
		b.cleanup()
		b.root = filepath.Join(b.dir, fmt.Sprintf("storage-%d", time.Now().UnixNano()))
	}
	global := []string{"--root", filepath.Join(b.root, "root"), "--runroot", filepath.Join(b.root, "run"), "--storage-driver", "overlay"}
	args := slices.Concat(global, []string{"build", "--layers", "--isolation", "oci", "--runtime", "/usr/sbin/runc", "--network", "host",
		"--tls-verify=false", "--build-arg", "BASE_REGISTRY=" + b.reg, "-t", image, dir})
	start := time.Now()
	rssFile := filepath.Join(t.TempDir(), "maxrss")
	cmd := exec.Command(kanikotest.GNUTime, append([]string{"-f", "%M", "-o", rssFile, b.bin}, args...)...)
	cmd.Env = append(os.Environ(), "BUILDAH_ISOLATION=oci")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("buildah build: %v\n%s", err, out)
	}
	rss := kanikotest.ReadGNUTime(rssFile)
	push := exec.Command(kanikotest.GNUTime, slices.Concat([]string{"-f", "%M", "-o", rssFile + ".push", b.bin}, global, []string{"push", "--tls-verify=false", image})...)
	if out, err := push.CombinedOutput(); err != nil {
		t.Fatalf("buildah push: %v\n%s", err, out)
	}
	wall := time.Since(start)
	if r := kanikotest.ReadGNUTime(rssFile + ".push"); r > rss {
		rss = r
	}
	t.Cleanup(b.cleanup)
	return measure{wall: wall, rss: rss}
}

// cleanup removes the storage root: images and containers first, so that
// buildah unmounts its overlays.
func (b *buildah) cleanup() {
	if b.root == "" {
		return
	}
	global := []string{"--root", filepath.Join(b.root, "root"), "--runroot", filepath.Join(b.root, "run"), "--storage-driver", "overlay"}
	exec.Command(b.bin, slices.Concat(global, []string{"rm", "--all"})...).Run()
	exec.Command(b.bin, slices.Concat(global, []string{"rmi", "--all", "--force"})...).Run()
	os.RemoveAll(b.root)
	b.root = ""
}
