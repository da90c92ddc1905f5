package harness

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Fault decides what the proxy does with the n-th request (1-based) it sees.
type Fault func(r *http.Request, n int) Action

// Action is one way to answer a request.
type Action struct {
	kind     string
	status   int
	cutAfter int64
}

var (
	// Pass forwards the request to the real server untouched.
	Pass = Action{kind: "pass"}
	// Reset closes the connection without answering.
	Reset = Action{kind: "reset"}
)

// Status answers with an HTTP status and no body the server would send
// (S3 and registries retry 500, 502, 503 and 429).
func Status(code int) Action { return Action{kind: "status", status: code} }

// CutBody forwards the request, then closes the connection after n bytes of
// the response body: a reset in the middle of a transfer.
func CutBody(n int64) Action { return Action{kind: "cut", cutAfter: n} }

// FaultProxy is a reverse proxy on 127.0.0.1 between a client under test and a
// real server, injecting faults the Fault function chooses.
type FaultProxy struct {
	URL  string // http://127.0.0.1:PORT
	Host string // 127.0.0.1:PORT

	mu     sync.Mutex
	n      int
	counts map[string]int
}

// StartFaultProxy proxies to target (http://host:port) until the test ends.
func StartFaultProxy(t testing.TB, target string, fault Fault) *FaultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{counts: map[string]int{}}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		// The Host header stays the proxy's: SigV4 signs the host the client
		// dialled, and a rewrite would break every signature.
		r.Out.Host = r.In.Host
	}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.n++
		n := p.n
		p.mu.Unlock()
		a := fault(r, n)
		p.mu.Lock()
		p.counts[a.kind]++
		p.mu.Unlock()
		switch a.kind {
		case "status":
			http.Error(w, fmt.Sprintf("injected %d", a.status), a.status)
		case "reset":
			hijackAndClose(w)
		case "cut":
			rp.ServeHTTP(&cuttingWriter{ResponseWriter: w, left: a.cutAfter}, r)
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	p.Host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

// Count is how many requests got the named action ("pass", "status", "reset", "cut").
func (p *FaultProxy) Count(kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[kind]
}

// Requests is the number of requests seen so far.
func (p *FaultProxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func hijackAndClose(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// cuttingWriter passes the headers and the first left bytes of the body, then
// aborts the connection.
type cuttingWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cuttingWriter) Write(b []byte) (int, error) {
	if int64(len(b)) <= c.left {
		c.left -= int64(len(b))
		return c.ResponseWriter.Write(b)
	}
	n, _ := c.ResponseWriter.Write(b[:c.left])
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	c.left = 0
	hijackAndClose(c.ResponseWriter)
	return n, io.ErrClosedPipe
}
