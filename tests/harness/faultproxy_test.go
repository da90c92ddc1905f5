package harness

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestFaultProxy(t *testing.T) {
	body := strings.Repeat("x", 64<<10)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	defer upstream.Close()
	p := StartFaultProxy(t, upstream.URL, func(r *http.Request, n int) Action {
		switch n {
		case 1:
			return Status(500)
		case 2:
			return Reset
		case 3:
			return CutBody(1000)
		}
		return Pass
	})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	resp, err := client.Get(p.URL)
	if err != nil || resp.StatusCode != 500 {
		t.Fatalf("request 1: %v %v, want 500", resp, err)
	}
	resp.Body.Close()
	if _, err := client.Get(p.URL); err == nil {
		t.Fatal("request 2: want a reset connection")
	}
	resp, err = client.Get(p.URL)
	if err != nil {
		t.Fatalf("request 3: %v", err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || len(got) >= len(body) {
		t.Fatalf("request 3: read %d bytes, err %v; want a cut body", len(got), err)
	}
	resp, err = client.Get(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != body {
		t.Fatalf("request 4: body of %d bytes, want %d", len(got), len(body))
	}
	if p.Requests() != 4 || p.Count("pass") != 1 || p.Count("status") != 1 || p.Count("reset") != 1 || p.Count("cut") != 1 {
		t.Errorf("counts: requests %d pass %d status %d reset %d cut %d", p.Requests(), p.Count("pass"), p.Count("status"), p.Count("reset"), p.Count("cut"))
	}
}

// TestFaultProxyKeepsHost: the upstream sees the Host the client dialled (the
// proxy's), as SigV4 signatures require.
func TestFaultProxyKeepsHost(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Host+" "+r.URL.Path)
	}))
	defer upstream.Close()
	p := StartFaultProxy(t, upstream.URL, func(*http.Request, int) Action { return Pass })
	resp, err := http.Get(p.URL + "/bucket/key")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := p.Host + " /bucket/key"; string(got) != want {
		t.Errorf("upstream saw %q, want %q", got, want)
	}
}
