//go:build integration

// Package verify benchmarks verify-image against the crane commands a user
// would run instead (digest, manifest, config, validate), on the same image
// in the same real registry. It prints medians side by side; it asserts
// only that every command succeeded (benchmarks are not timed assertions).
//
//	make bench-verify     (BENCH_RUNS=N to change the number of runs)
package verify

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"

	"github.com/knative-lambda/lambda-builder/internal/step"
	"github.com/knative-lambda/lambda-builder/internal/verify/verifytest"
	"github.com/knative-lambda/lambda-builder/tests/harness"
)

// dirLayer tars and gzips a folder of this machine into a layer file once,
// so pushing does not compress it again.
func dirLayer(t *testing.T, root, prefix string) v1.Layer {
	t.Helper()
	path := filepath.Join(t.TempDir(), filepath.Base(root)+".tar.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil || !(info.Mode().IsRegular() || info.IsDir()) {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		h.Name = filepath.ToSlash(filepath.Join(prefix, rel))
		h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname = time.Unix(0, 0), 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil || !info.Mode().IsRegular() {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("building a layer from %s: %v", root, err)
	}
	l, err := tarball.LayerFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// measured is one command's wall and CPU (user+sys) times and peak RSS
// over the runs. CPU time says more than wall time on a busy machine.
type measured struct {
	label string
	walls []time.Duration
	cpus  []time.Duration
	rssKB []int64
}

func (m *measured) add(u usage) {
	m.walls = append(m.walls, u.wall)
	m.cpus = append(m.cpus, u.cpu)
	m.rssKB = append(m.rssKB, u.rssKB)
}

type usage struct {
	wall, cpu time.Duration
	rssKB     int64
}

func median[T int64 | time.Duration](xs []T) T {
	s := append([]T(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// timed runs argv under GNU time, which reports the command's own peak
// RSS: a child's ru_maxrss seen from Go starts at the test process's RSS
// (os/exec forks with vfork, and exec keeps the old mm's high-water mark).
// The CPU time is the wrapper's rusage, which includes the command it waited for.
func timed(t *testing.T, gnuTime string, env []string, argv ...string) (usage, string) {
	t.Helper()
	rssFile := filepath.Join(t.TempDir(), "rss")
	cmd := exec.Command(gnuTime, append([]string{"-f", "%M", "-o", rssFile}, argv...)...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		t.Fatalf("%s: %v\n%s%s", strings.Join(argv, " "), err, out.String(), errOut.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	b, err := os.ReadFile(rssFile)
	if err != nil {
		t.Fatal(err)
	}
	rss, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatalf("GNU time wrote %q: %v", b, err)
	}
	return usage{wall: d, cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), rssKB: rss}, out.String()
}

func TestBenchVerify(t *testing.T) {
	bin := os.Getenv("VERIFY_IMAGE")
	if bin == "" {
		t.Fatal("VERIFY_IMAGE is not set: run `make bench-verify` (it builds bin/verify-image)")
	}
	crane := harness.Tool(t, "crane")
	gnuTime := harness.Tool(t, "time") // Debian package time (tests/tools/debian-packages)
	runs := 5
	if n, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && n > 0 {
		runs = n
	}
	reg := harness.StartRegistry(t)

	small, err := verifytest.Clean().Build()
	if err != nil {
		t.Fatal(err)
	}
	// The Go toolchain is on every machine that runs this: a realistic tree
	// of many small files (src) and a few large binaries (pkg/tool).
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	goroot := strings.TrimSpace(string(out))
	toolchain := verifytest.Clean()
	toolchain.Layers = append([]v1.Layer{dirLayer(t, filepath.Join(goroot, "src"), "usr/local/go/src"), dirLayer(t, filepath.Join(goroot, "pkg", "tool"), "usr/local/go/pkg/tool")}, toolchain.Layers...)
	large, err := toolchain.Build()
	if err != nil {
		t.Fatal(err)
	}
	images := []struct {
		name string
		img  v1.Image
	}{{"small (2 layers)", small}, {"Go toolchain (4 layers)", large}}

	fmt.Printf("\nverify-image vs crane, %d runs each after one warm-up, medians; registry: distribution on 127.0.0.1\n", runs)
	for i, im := range images {
		ref, err := name.NewTag(fmt.Sprintf("%s/bench/img%d:1", reg.Host, i))
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, im.img, remote.WithContext(context.Background())); err != nil {
			t.Fatal(err)
		}
		digest, _ := im.img.Digest()
		m, _ := im.img.Manifest()
		var size int64
		for _, l := range m.Layers {
			size += l.Size
		}
		byDigest := ref.Context().Digest(digest.String()).String()
		results := t.TempDir()
		verifyEnv := func(mode string) []string {
			return []string{"IMAGE_URL=" + ref.String(), "IMAGE_DIGEST=" + digest.String(), "RESULTS_DIR=" + results, "VERIFY_MODE=" + mode, "HOME=" + results}
		}
		verifyFull := &measured{label: "verify-image (full: all checks, secrets scan)"}
		verifyFast := &measured{label: "verify-image (VERIFY_MODE=fast)"}
		steps := []*measured{{label: "crane digest TAG"}, {label: "crane manifest @DIGEST"}, {label: "crane config @DIGEST"}, {label: "crane validate --remote @DIGEST"}}
		craneArgs := [][]string{{crane, "digest", ref.String()}, {crane, "manifest", byDigest}, {crane, "config", byDigest}, {crane, "validate", "--remote", byDigest}}
		craneTotal := &measured{label: "crane, the 4 commands (sum per run)"}
		for run := 0; run <= runs; run++ {
			warm := run == 0
			u, _ := timed(t, gnuTime, verifyEnv("full"), bin)
			if !warm {
				verifyFull.add(u)
			}
			var sum usage
			for j, a := range craneArgs {
				u, out := timed(t, gnuTime, nil, a...)
				if j == 0 && strings.TrimSpace(out) != digest.String() {
					t.Fatalf("crane digest = %q, want %s", out, digest)
				}
				sum = usage{wall: sum.wall + u.wall, cpu: sum.cpu + u.cpu, rssKB: max(sum.rssKB, u.rssKB)}
				if !warm {
					steps[j].add(u)
				}
			}
			if !warm {
				craneTotal.add(sum)
			}
			u, _ = timed(t, gnuTime, verifyEnv("fast"), bin)
			if !warm {
				verifyFast.add(u)
			}
		}
		if b, err := os.ReadFile(filepath.Join(results, "VERIFIED")); err != nil || string(b) != "true" {
			t.Fatalf("verify-image did not verify the image: %q %v", b, err)
		}
		fmt.Printf("\nimage %q: %d layers, %s compressed\n\n", im.name, len(m.Layers), step.HumanBytes(size))
		fmt.Println("| command | median wall | median CPU (user+sys) | peak RSS |")
		fmt.Println("|---|---:|---:|---:|")
		for _, row := range append(append(steps, craneTotal), verifyFull, verifyFast) {
			fmt.Printf("| %s | %.3f s | %.3f s | %.0f MB |\n", row.label, median(row.walls).Seconds(), median(row.cpus).Seconds(), float64(median(row.rssKB))/1024)
		}
		ratio := median(verifyFull.walls).Seconds() / median(craneTotal.walls).Seconds()
		cpuRatio := median(verifyFull.cpus).Seconds() / median(craneTotal.cpus).Seconds()
		fmt.Printf("\nverify-image full / crane total = %.2fx wall (target: at most 1.20x), %.2fx CPU\n", ratio, cpuRatio)
	}
}
