package kanikotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Prefix names everything this package creates (containers, folders), so
// that it never touches what others run on a shared machine.
const Prefix = "lbk-"

// Runc is where Debian's runc package installs it. crun fails on these
// hosts (cgroups in hybrid mode), so runc it is.
const Runc = "/usr/sbin/runc"

// Runner runs steps under runc. Its state lives in its own folder (runc
// --root), one per process, so `runc list` there shows only its containers.
type Runner struct {
	Runc  string
	Root  string // runc state
	Work  string // bundles, overlay upper/work dirs
	Lower string // the executor image's extracted root, read-only by convention
	Image v1.Config
	// MeasureRSS runs runc under GNU time (Debian's "time") to report the
	// peak RSS of the step's processes; getrusage from this (large) Go
	// process would count its own pages, which a forked child starts with.
	MeasureRSS bool
}

// Run is one execution of the step.
type Run struct {
	Step    *Step
	Volumes map[string]string // workspace or volume name -> host folder
	Results string            // host folder mounted at /tekton/results
	Timeout time.Duration
	// Serve, when set, runs beside a long-lived container (a function's
	// server); when it returns, the container is killed and its error kept.
	Serve func(ctx context.Context) error
}

// Outcome is what a run left: its exit code and log, and the result files.
type Outcome struct {
	ID       string
	ExitCode int
	ServeErr error
	Log      string
	Results  map[string]string
	Upper    []string // paths the step wrote outside its mounts (the overlay's upper dir)
	Wall     time.Duration
	MaxRSS   int64 // bytes: the largest resident set of a process of the step (Runner.MeasureRSS only)
}

// Run executes the step and always cleans up: the container is deleted, the
// overlay unmounted and the bundle removed, on success, failure, timeout or
// (through the package's signal handler) interruption.
func (r *Runner) Run(ctx context.Context, run Run) (*Outcome, error) {
	id := Prefix + randomHex(6)
	bundle := filepath.Join(r.Work, id)
	rootfs := filepath.Join(bundle, "rootfs")
	upper := filepath.Join(bundle, "upper")
	c := &container{runner: r, id: id, bundle: bundle, rootfs: rootfs}
	track(c)
	defer c.cleanup()
	for _, d := range []string{rootfs, upper, filepath.Join(bundle, "work")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", r.Lower, upper, filepath.Join(bundle, "work"))
	if err := unix.Mount("overlay", rootfs, "overlay", 0, opts); err != nil {
		return nil, fmt.Errorf("mounting the overlay root: %w", err)
	}
	c.setMounted()

	binds := []Bind{{Source: run.Results, Destination: "/tekton/results"}}
	for dest, name := range run.Step.Mounts {
		src, ok := run.Volumes[name]
		if !ok {
			return nil, fmt.Errorf("no host folder for volume %s (mounted at %s)", name, dest)
		}
		binds = append(binds, Bind{Source: src, Destination: dest, ReadOnly: run.Step.ReadOnly[dest]})
	}
	spec, err := Spec(SpecInput{Step: run.Step, Image: r.Image, Binds: binds, Hostname: id, NoFile: hostNoFile()})
	if err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(spec, "", "  ")
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		return nil, err
	}

	if run.Timeout == 0 {
		run.Timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, run.Timeout)
	defer cancel()
	var log bytes.Buffer
	logFile, err := os.Create(filepath.Join(r.Work, id+".log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	argv := []string{r.Runc, "--root", r.Root, "run", "--bundle", bundle, id}
	rssFile := filepath.Join(bundle, "maxrss")
	if r.MeasureRSS {
		argv = append([]string{GNUTime, "-f", "%M", "-o", rssFile}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = nil
	w := io.MultiWriter(&log, logFile)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting runc: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	served := make(chan error, 1)
	if run.Serve != nil {
		go func() { served <- run.Serve(ctx) }()
	}
	var waitErr error
	var serveErr error
	select {
	case waitErr = <-done:
	case serveErr = <-served:
		_ = exec.Command(r.Runc, "--root", r.Root, "kill", id, "KILL").Run()
		waitErr = <-done
	case <-ctx.Done():
		_ = exec.Command(r.Runc, "--root", r.Root, "kill", id, "KILL").Run()
		<-done
		return nil, fmt.Errorf("step %s did not finish within %s: %w; log:\n%s", id, run.Timeout, ctx.Err(), log.String())
	}
	out := &Outcome{ID: id, Log: log.String(), Results: map[string]string{}, Wall: time.Since(start), ServeErr: serveErr}
	if r.MeasureRSS {
		out.MaxRSS = ReadGNUTime(rssFile)
	}
	var exit *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &exit):
		out.ExitCode = exit.ExitCode()
	default:
		return nil, fmt.Errorf("runc run %s: %w", id, waitErr)
	}
	entries, _ := os.ReadDir(run.Results)
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(run.Results, e.Name())); err == nil {
			out.Results[e.Name()] = string(b)
		}
	}
	_ = filepath.Walk(upper, func(p string, fi os.FileInfo, err error) error {
		if err == nil && p != upper {
			out.Upper = append(out.Upper, strings.TrimPrefix(p, upper))
		}
		return nil
	})
	return out, nil
}

// GNUTime is Debian's time package: `-f %M` prints the peak RSS in KiB of
// the command and its waited-for descendants (runc waits for the container).
const GNUTime = "/usr/bin/time"

// ReadGNUTime reads the peak RSS GNU time wrote, in bytes (0 if unreadable).
func ReadGNUTime(file string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	kb, _ := strconv.ParseInt(strings.TrimSpace(lines[len(lines)-1]), 10, 64)
	return kb * 1024
}

// hostNoFile is this process's hard RLIMIT_NOFILE: a container cannot be
// given more without CAP_SYS_RESOURCE, which these hosts do not grant.
func hostNoFile() uint64 {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil || l.Max > 1<<20 {
		return 1 << 20
	}
	return l.Max
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// container is one run's resources, tracked until cleaned up.
type container struct {
	runner  *Runner
	id      string
	bundle  string
	rootfs  string
	mu      sync.Mutex
	mounted bool
	done    bool
}

func (c *container) setMounted() {
	c.mu.Lock()
	c.mounted = true
	c.mu.Unlock()
}

// cleanup deletes the container, unmounts the root and removes the bundle.
// It is safe to call twice and from the signal handler.
func (c *container) cleanup() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return
	}
	c.done = true
	_ = exec.Command(c.runner.Runc, "--root", c.runner.Root, "delete", "--force", c.id).Run()
	if c.mounted {
		if err := unix.Unmount(c.rootfs, 0); err != nil {
			_ = unix.Unmount(c.rootfs, unix.MNT_DETACH)
		}
	}
	_ = os.RemoveAll(c.bundle)
	untrack(c)
}

var (
	liveMu sync.Mutex
	live   = map[*container]bool{}
)

func track(c *container)   { liveMu.Lock(); live[c] = true; liveMu.Unlock() }
func untrack(c *container) { liveMu.Lock(); delete(live, c); liveMu.Unlock() }

// CleanupAll removes every container this process still has; the test
// binary's signal handler calls it before exiting on SIGINT or SIGTERM.
func CleanupAll() {
	liveMu.Lock()
	cs := make([]*container, 0, len(live))
	for c := range live {
		cs = append(cs, c)
	}
	liveMu.Unlock()
	for _, c := range cs {
		c.cleanup()
	}
}

// SweepStale cleans what an earlier test process under parent left when it
// was killed outright (SIGKILL, a test timeout's panic): its folder is named
// after its PID, and only folders of dead processes are touched.
func SweepStale(parent string) {
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		pid, err := strconv.Atoi(strings.TrimPrefix(e.Name(), Prefix))
		if err != nil || !strings.HasPrefix(e.Name(), Prefix) || processAlive(pid) {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		state := filepath.Join(dir, "runc")
		if out, err := exec.Command(Runc, "--root", state, "list", "-q").Output(); err == nil {
			for _, id := range strings.Fields(string(out)) {
				_ = exec.Command(Runc, "--root", state, "delete", "--force", id).Run()
			}
		}
		for _, m := range mountsUnder(dir) {
			_ = unix.Unmount(m, unix.MNT_DETACH)
		}
		_ = os.RemoveAll(dir)
	}
}

func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// mountsUnder lists mount points below dir, deepest first.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append([]string{f[4]}, out...)
		}
	}
	return out
}
