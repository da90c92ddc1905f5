package harness

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// DockerRegistry is Debian's distribution registry (package docker-registry).
const DockerRegistry = "docker-registry"

// Registry is a distribution registry serving plain HTTP on 127.0.0.1, which
// go-containerregistry and Kaniko treat as insecure-by-default localhost.
type Registry struct {
	Host    string // 127.0.0.1:PORT, the reference prefix
	Root    string // storage folder
	Process *Process
}

// StartRegistry starts a registry on a free port and waits for /v2/.
func StartRegistry(t testing.TB) *Registry {
	t.Helper()
	bin := Tool(t, DockerRegistry)
	dir := t.TempDir()
	r := &Registry{Host: FreeAddr(t), Root: filepath.Join(dir, "data")}
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, r.Root, r.Host)
	configPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	r.Process = Start(t, "registry", []string{bin, "serve", configPath})
	r.Process.WaitReady(t, 20*time.Second, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.Host+"/v2/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /v2/: %s", resp.Status)
		}
		return nil
	})
	return r
}

// PushRandomIndex pushes a random two-platform image index to ref, a stand-in
// for a multi-platform base image, and returns its digest. Any registry
// go-containerregistry reaches works: StartRegistry's, or an in-process one.
func PushRandomIndex(t testing.TB, ref string) string {
	t.Helper()
	idx, err := random.Index(512, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}
