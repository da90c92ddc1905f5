//go:build integration

// Package fetch is the fetch-code benchmark (`make bench-fetch`): one data set
// (2,000 files of 1-20 KiB in a node_modules-like tree plus 5 files of 20
// MiB) uploaded once to versitygw, then fetched in turns by `aws s3 sync`,
// a plain Go fetcher and fetch-code, each run checked against the data set's
// tree digest, and probes that show where the time goes. It prints a table;
// it asserts only that every tool fetched the exact tree.
//
// It is not part of `make integration` (which runs tests/integration/...).
package fetch

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/knative-lambda/lambda-builder/internal/treedigest"
	"github.com/knative-lambda/lambda-builder/tests/harness"
)

const (
	smallFiles = 2000
	largeFiles = 5
	largeSize  = 20 << 20
	prefix     = "app/"
)

// rounds is how many times each tool runs (BENCH_ROUNDS, at least 3).
func rounds() int {
	n, _ := strconv.Atoi(os.Getenv("BENCH_ROUNDS"))
	return max(n, 3)
}

// dataset writes the benchmark's tree: packages with package.json, index.js,
// lib/, dist/, nested node_modules and scoped packages, sizes 1-20 KiB drawn
// from a fixed seed; and 5 x 20 MiB under assets/.
func dataset(t *testing.T, dir string) (bytes int64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"package.json", "index.js", "README.md", "lib/util.js", "lib/core.js", "dist/bundle.js", "dist/bundle.min.js", "types/index.d.ts"}
	for i := 0; i < smallFiles; {
		pkg := fmt.Sprintf("node_modules/pkg-%03d", i/len(names))
		switch {
		case i%97 < 8:
			pkg = fmt.Sprintf("node_modules/@scope-%d/pkg-%03d", i%5, i/len(names))
		case i%53 < 8:
			pkg = fmt.Sprintf("node_modules/pkg-%03d/node_modules/dep-%03d", i/len(names)/3, i/len(names))
		}
		for _, n := range names {
			if i == smallFiles {
				break
			}
			b := make([]byte, 1024+rng.IntN(19*1024+1))
			for j := range b {
				b[j] = byte(' ' + rng.IntN(95))
			}
			p := filepath.Join(dir, pkg, n)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			bytes += int64(len(b))
			i++
		}
	}
	big := make([]byte, largeSize)
	for i := range largeFiles {
		for j := range big {
			big[j] = byte(rng.Uint32())
		}
		p := filepath.Join(dir, "assets", fmt.Sprintf("model-%d.bin", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, big, 0o644); err != nil {
			t.Fatal(err)
		}
		bytes += largeSize
	}
	return bytes
}

// upload puts the tree under prefix with the SDK, 16 at a time.
func upload(t *testing.T, srv *harness.S3, bucket, dir string) {
	t.Helper()
	client := srv.Client()
	paths := make(chan string)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for p := range paths {
				b, err := os.ReadFile(p)
				if err == nil {
					rel, _ := filepath.Rel(dir, p)
					_, err = client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + filepath.ToSlash(rel)), Body: bytes.NewReader(b)})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths <- p
		}
		return err
	})
	close(paths)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func build(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, b)
	}
	return out
}

// sample is one measured run.
type sample struct {
	wall, cpu, serverCPU time.Duration
	rssMB                float64
}

// meter measures commands: wall time here; peak RSS and CPU time (user +
// system) from /usr/bin/time, which forks the command from its own small
// process (a child forked from this test would inherit the test's large RSS
// as its starting high-water mark); and the CPU the S3 server spent meanwhile.
type meter struct {
	t         *testing.T
	timeBin   string
	serverPID int
}

func (m meter) run(env []string, argv ...string) sample {
	t := m.t
	t.Helper()
	stats := filepath.Join(t.TempDir(), "time")
	cmd := exec.Command(m.timeBin, append([]string{"-f", "%M %U %S", "-o", stats}, argv...)...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	server := m.serverTicks()
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out.String())
	}
	b, err := os.ReadFile(stats)
	if err != nil {
		t.Fatal(err)
	}
	var kb, user, sys float64
	if _, err := fmt.Sscanf(strings.TrimSpace(lastLine(string(b))), "%f %f %f", &kb, &user, &sys); err != nil {
		t.Fatalf("reading /usr/bin/time output %q: %v", b, err)
	}
	return sample{
		wall: wall, rssMB: kb / 1024,
		cpu:       time.Duration((user + sys) * float64(time.Second)),
		serverCPU: time.Duration(m.serverTicks()-server) * time.Second / 100,
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// serverTicks is the S3 server's CPU time so far, in clock ticks (USER_HZ,
// 100 on Linux), from /proc/PID/stat.
func (m meter) serverTicks() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.serverPID))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// summarize is the median and the minimum of each measure.
func summarize(xs []sample) (med, low sample) {
	pick := func(f func(sample) float64) (float64, float64) {
		v := make([]float64, len(xs))
		for i, x := range xs {
			v[i] = f(x)
		}
		sort.Float64s(v)
		m := v[len(v)/2]
		if len(v)%2 == 0 {
			m = (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		return m, v[0]
	}
	dur := func(f func(sample) time.Duration) (time.Duration, time.Duration) {
		m, l := pick(func(s sample) float64 { return float64(f(s)) })
		return time.Duration(m), time.Duration(l)
	}
	med.wall, low.wall = dur(func(s sample) time.Duration { return s.wall })
	med.cpu, low.cpu = dur(func(s sample) time.Duration { return s.cpu })
	med.serverCPU, low.serverCPU = dur(func(s sample) time.Duration { return s.serverCPU })
	med.rssMB, low.rssMB = pick(func(s sample) float64 { return s.rssMB })
	return med, low
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func TestFetchBenchmark(t *testing.T) {
	awsCLI := harness.Tool(t, "/usr/bin/aws")
	timeBin := harness.Tool(t, "/usr/bin/time")
	work := t.TempDir()
	bin := t.TempDir()
	fetchCode := build(t, bin, "github.com/knative-lambda/lambda-builder/cmd/fetch-code")
	baseline := build(t, bin, "github.com/knative-lambda/lambda-builder/tests/bench/fetch/baseline")

	local := filepath.Join(work, "dataset")
	total := dataset(t, local)
	want, _, err := treedigest.Dir(local)
	if err != nil {
		t.Fatal(err)
	}
	// Keep-alive on, as AWS S3 does: without it every request of every tool
	// pays a TCP handshake that real S3 does not ask for.
	srv := harness.StartS3With(t, harness.S3Options{KeepAlive: true})
	srv.CreateBucket(t, "bench")
	upStart := time.Now()
	upload(t, srv, "bench", local)
	uploaded := time.Since(upStart)

	m := meter{t: t, timeBin: timeBin, serverPID: srv.Process.PID()}
	env := append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}, srv.Env()...)
	source := "s3://bench/" + prefix
	runs := 0
	// check runs argv, then fails unless dest holds exactly the data set.
	check := func(dest string, env []string, argv ...string) sample {
		s := m.run(env, argv...)
		got, _, err := treedigest.Dir(dest)
		if err != nil || got != want {
			t.Fatalf("%s: fetched tree %s (%v), want %s", argv[0], got, err, want)
		}
		os.RemoveAll(dest)
		os.RemoveAll(dest + ".results")
		runs++
		return s
	}
	fetchEnv := func(src, dest string, extra ...string) []string {
		return append(append(env, "SOURCE="+src, "DEST="+dest, "RESULTS_DIR="+dest+".results"), extra...)
	}
	tools := []struct {
		name string
		run  func(dest string) sample
	}{
		{"aws s3 sync (Debian awscli 2.9.19)", func(dest string) sample {
			return check(dest, env, awsCLI, "--endpoint-url", srv.Endpoint, "s3", "sync", "--only-show-errors", source, dest)
		}},
		{"plain Go: paginator + 32 GetObject", func(dest string) sample {
			return check(dest, env, baseline, "get", "bench", prefix, dest)
		}},
		{"fetch-code (FETCH_CONCURRENCY=32)", func(dest string) sample {
			return check(dest, fetchEnv(source, dest), fetchCode)
		}},
	}
	loadBefore := loadavg()
	results := make([][]sample, len(tools))
	for r := range rounds() {
		for i := range tools {
			k := (i + r) % len(tools) // rotate who goes first: noise spreads evenly
			results[k] = append(results[k], tools[k].run(filepath.Join(work, fmt.Sprintf("run-%d-%d", r, k))))
		}
	}

	// Where the time goes: each probe alone, 3 runs.
	probe := func(f func(i int) sample) []sample {
		var xs []sample
		for i := range 3 {
			xs = append(xs, f(i))
		}
		return xs
	}
	fetchInto := func(root, src string, extra ...string) func(int) sample {
		return func(i int) sample {
			dest := filepath.Join(root, fmt.Sprintf("probe-%d", i))
			defer os.RemoveAll(dest + ".results")
			defer os.RemoveAll(dest)
			return m.run(fetchEnv(src, dest, extra...), fetchCode)
		}
	}
	writeOnly := func(args ...string) func(int) sample {
		return func(i int) sample {
			dest := filepath.Join(work, fmt.Sprintf("write-%d", i))
			defer os.RemoveAll(dest)
			return m.run(env, append([]string{baseline, "write", filepath.Join(local, "node_modules"), dest}, args...)...)
		}
	}
	shm, err := os.MkdirTemp("/dev/shm", "fetch-bench-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(shm)
	probes := []struct {
		name string
		xs   []sample
	}{
		{"listing alone: ListObjectsV2, 2,005 keys, 3 pages", probe(func(int) sample { return m.run(env, baseline, "list", "bench", prefix) })},
		{"plain Go GETs, bodies to /dev/null (no disk)", probe(func(int) sample { return m.run(env, baseline, "discard", "bench", prefix) })},
		{"fetch-code, the 2,000 small files only", probe(fetchInto(work, source+"node_modules/"))},
		{"fetch-code, the 5 x 20 MiB only", probe(fetchInto(work, source+"assets/"))},
		{"fetch-code, all, DEST on tmpfs (/dev/shm)", probe(fetchInto(shm, source))},
		{"disk alone: write the 2,000 small files (32 workers)", probe(writeOnly())},
		{"disk alone, fsync after each file", probe(writeOnly("fsync"))},
		{"fetch-code FETCH_CONCURRENCY=8", probe(fetchInto(work, source, "FETCH_CONCURRENCY=8"))},
		{"fetch-code FETCH_CONCURRENCY=16", probe(fetchInto(work, source, "FETCH_CONCURRENCY=16"))},
		{"fetch-code FETCH_CONCURRENCY=64", probe(fetchInto(work, source, "FETCH_CONCURRENCY=64"))},
		{"awscli start-up alone: aws --version", probe(func(int) sample { return m.run(env, awsCLI, "--version") })},
	}

	var b strings.Builder
	fmt.Fprintf(&b, "\nfetch-code benchmark: %d files of 1-20 KiB (node_modules-like) + %d x 20 MiB = %.1f MB from versitygw v1.8.0 (keep-alive) on 127.0.0.1\n",
		smallFiles, largeFiles, float64(total)/1e6)
	fmt.Fprintf(&b, "%d runs per tool, turns rotated; every run's tree checked against the data set's digest; upload (once, aws-sdk-go-v2): %.1f s\n",
		rounds(), uploaded.Seconds())
	fmt.Fprintf(&b, "%d CPUs; load average %s before, %s after; a machine shared with other builds: numbers are noisy, min shows the least disturbed run\n\n",
		runtime.NumCPU(), loadBefore, loadavg())
	awsMed, _ := summarize(results[0])
	row := func(name string, xs []sample, vsAWS bool) {
		med, low := summarize(xs)
		fmt.Fprintf(&b, "| %-50s | %6.2f | %6.2f | %7.1f | %6.2f | %6.2f |", name, med.wall.Seconds(), low.wall.Seconds(), med.rssMB, med.cpu.Seconds(), med.serverCPU.Seconds())
		if vsAWS {
			fmt.Fprintf(&b, " %6.1fx | %5.0f%% |", awsMed.wall.Seconds()/med.wall.Seconds(), 100*med.rssMB/awsMed.rssMB)
		}
		b.WriteString("\n")
	}
	head := func(title string, vsAWS bool) {
		fmt.Fprintf(&b, "| %-50s | %6s | %6s | %7s | %6s | %6s |", title, "wall s", "min s", "RSS MB", "CPU s", "S3 CPU")
		dashes := "|" + strings.Repeat("-", 52) + "|--------|--------|---------|--------|--------|"
		if vsAWS {
			b.WriteString(" vs aws  | RSS    |")
			dashes += "---------|--------|"
		}
		b.WriteString("\n" + dashes + "\n")
	}
	head("tool (median wall, min wall, median peak RSS, CPU)", true)
	for i, tool := range tools {
		row(tool.name, results[i], true)
	}
	for i, tool := range tools {
		var walls []string
		for _, s := range results[i] {
			walls = append(walls, fmt.Sprintf("%.2f", s.wall.Seconds()))
		}
		fmt.Fprintf(&b, "  %s, every run (s): %s\n", tool.name, strings.Join(walls, " "))
	}
	b.WriteString("\nwhere the time goes (3 runs each)\n\n")
	head("probe", false)
	for _, p := range probes {
		row(p.name, p.xs, false)
	}
	b.WriteString("CPU s = user + system of the tool; S3 CPU = versitygw's CPU meanwhile (both share the 2 cores)\n")
	fmt.Print(b.String())
	if runs != rounds()*len(tools) {
		t.Errorf("%d checked runs, want %d", runs, rounds()*len(tools))
	}
}
