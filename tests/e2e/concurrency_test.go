//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// concurrentRuns is the seed's "parallel builds 10+".
const concurrentRuns = 10

// TestConcurrentBuilds starts 10 function-build PipelineRuns at once on the
// one node and expects all to succeed. It logs the wall time and the host's
// peak memory in use (a measurement for the closing notes, not an
// assertion: timings belong in benchmarks).
func TestConcurrentBuilds(t *testing.T) {
	t.Parallel()
	b := newBuildEnv(t)
	b.uploadDir(t, fixtureFunction("python"), "python/")
	before := memInUse()
	peak := sampleMemory(t)
	start := time.Now()
	var names []string
	for i := range concurrentRuns {
		pr, err := c.tekton.TektonV1().PipelineRuns(b.ns).Create(context.Background(), &v1.PipelineRun{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "parallel-"},
			Spec: v1.PipelineRunSpec{
				PipelineRef: &v1.PipelineRef{Name: "function-build"},
				Params:      b.params("s3://"+b.bucket+"/python/", fmt.Sprintf("%s/e2e/%s/parallel-%d:v1", c.registry, b.ns, i)),
				Workspaces:  b.workspaces(),
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, pr.Name)
	}
	// The runs proceed together in the cluster; waiting for them one by one
	// costs no time.
	for _, n := range names {
		waitPipelineRun(t, b.ns, n)
	}
	t.Logf("%d concurrent function-build runs: all Succeeded in %s; host memory in use peaked at %d MiB (%d MiB before)",
		concurrentRuns, time.Since(start).Round(time.Second), peak()>>20, before>>20)
}

// memInUse is MemTotal - MemAvailable of /proc/meminfo, in bytes.
func memInUse() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	var total, avail int64
	s := bufio.NewScanner(f)
	for s.Scan() {
		var k string
		var v int64
		fmt.Sscanf(s.Text(), "%s %d", &k, &v)
		switch k {
		case "MemTotal:":
			total = v
		case "MemAvailable:":
			avail = v
		}
	}
	return (total - avail) << 10
}

// sampleMemory samples memInUse every second until the test ends; the
// returned func gives the peak so far.
func sampleMemory(t *testing.T) func() int64 {
	var mu sync.Mutex
	peak := memInUse()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			if m := memInUse(); m > 0 {
				mu.Lock()
				peak = max(peak, m)
				mu.Unlock()
			}
		}
	}()
	return func() int64 { mu.Lock(); defer mu.Unlock(); return peak }
}
