//go:build integration

package fetch

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/knative-lambda/lambda-builder/tests/harness"
)

// faultTree is many small objects and two of a few MiB.
func faultTree(t *testing.T) string {
	files := map[string]string{}
	for i := range 150 {
		files[fmt.Sprintf("node_modules/p%02d/f%03d.js", i%15, i)] = strings.Repeat(fmt.Sprint(i), 200)
	}
	for _, name := range []string{"big/a.bin", "big/b.bin"} {
		b := make([]byte, 4<<20)
		rand.Read(b)
		files[name] = string(b)
	}
	return writeTree(t, files)
}

// proxyEnv points the step at the proxy instead of the server.
func proxyEnv(srv *harness.S3, p *harness.FaultProxy, source string) []string {
	return append(srv.Env(), "S3_ENDPOINT="+p.URL, "SOURCE="+source)
}

func isList(r *http.Request) bool { return r.URL.Query().Get("list-type") == "2" }

// TestFetchSurvivesTransientFaults: resets, 500s and bodies cut mid-transfer
// (listing pages included) are retried; the tree that lands is exact.
func TestFetchSurvivesTransientFaults(t *testing.T) {
	srv := harness.StartS3(t)
	srv.CreateBucket(t, "code")
	local := faultTree(t)
	uploadDir(t, srv, "code", "fn/", local)

	var mu sync.Mutex
	seen := map[string]int{}
	p := harness.StartFaultProxy(t, srv.Endpoint, func(r *http.Request, n int) harness.Action {
		mu.Lock()
		seen[r.URL.Path+"?"+r.URL.Query().Get("list-type")]++
		k := seen[r.URL.Path+"?"+r.URL.Query().Get("list-type")]
		mu.Unlock()
		switch {
		case isList(r) && k == 1:
			return harness.CutBody(300) // a listing page cut in its XML
		case strings.HasPrefix(r.URL.Path, "/code/fn/big/") && k <= 2:
			return harness.CutBody(1 << 20) // a large body cut twice, mid-transfer
		case n%9 == 0:
			return harness.Status(http.StatusInternalServerError)
		case n%13 == 0:
			return harness.Reset
		case n%11 == 0:
			return harness.Status(http.StatusServiceUnavailable) // SlowDown
		case n%17 == 0 && k == 1:
			return harness.CutBody(100)
		}
		return harness.Pass
	})
	r := fetch(t, append(proxyEnv(srv, p, "s3://code/fn/"), "FETCH_CONCURRENCY=8")...)
	r.wantOK(t)
	if want := digestOf(t, local); r.results["SOURCE_DIGEST"] != want || digestOf(t, r.dest) != want {
		t.Errorf("SOURCE_DIGEST %s, want %s", r.results["SOURCE_DIGEST"], want)
	}
	if p.Count("status") == 0 || p.Count("reset") == 0 || p.Count("cut") < 5 {
		t.Errorf("faults injected: status %d reset %d cut %d; the test did not exercise them", p.Count("status"), p.Count("reset"), p.Count("cut"))
	}
	t.Logf("requests %d: pass %d, 500 %d, reset %d, cut %d", p.Requests(), p.Count("pass"), p.Count("status"), p.Count("reset"), p.Count("cut"))
}

// TestFetchGivesUpBounded: an object that keeps failing ends the fetch after
// a bounded number of attempts, with nothing reported and DEST untouched.
func TestFetchGivesUpBounded(t *testing.T) {
	srv := harness.StartS3(t)
	srv.CreateBucket(t, "code")
	uploadDir(t, srv, "code", "fn/", faultTree(t))
	// The step runs with FETCH_CONCURRENCY=4: a pool of 2*4+4 connections.
	const pool = 12
	tests := []struct {
		name     string
		action   harness.Action
		min, max int // GETs of the failing object
		text     string
	}{
		// A body that breaks is restarted by the fetcher: 4 attempts.
		{"body always cut", harness.CutBody(64 << 10), 4, 4, "after 4 attempts"},
		// A request that fails before its body is retried by the SDK: 5 attempts.
		{"always 500", harness.Status(http.StatusInternalServerError), 5, 5, "HTTP 500"},
		// Go's transport also replays a GET that dies on a reused keep-alive
		// connection, once per idle connection it burns, before the SDK sees
		// the error: each of the 5 SDK attempts tries at most pool+1 times.
		{"always reset", harness.Reset, 5, 5 * (pool + 1), "s3://code/fn/big/a.bin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			hits := 0
			p := harness.StartFaultProxy(t, srv.Endpoint, func(r *http.Request, n int) harness.Action {
				if r.URL.Path == "/code/fn/big/a.bin" {
					mu.Lock()
					hits++
					mu.Unlock()
					return tt.action
				}
				return harness.Pass
			})
			r := fetch(t, append(proxyEnv(srv, p, "s3://code/fn/"), "FETCH_CONCURRENCY=4")...)
			r.wantRefused(t, 4, "Unavailable", tt.text, nil)
			if hits < tt.min || hits > tt.max {
				t.Errorf("the failing object was requested %d times, want %d to %d (bounded retries)", hits, tt.min, tt.max)
			}
		})
	}
}
