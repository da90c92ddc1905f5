package kanikotest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
)

// Serve pulls a built function image, runs it under runc as its config says
// (entrypoint, env, working dir, user: which must not be root) with no
// capabilities, PORT and HOST set, and returns the body of GET / once it
// answers 200. The container is killed afterwards.
func (e *Env) Serve(ctx context.Context, t testing.TB, ref, port string) (string, *Outcome) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := Unpack(img, root); err != nil {
		t.Fatal(err)
	}
	uid, gid, err := resolveUser(root, cf.Config.User)
	if err != nil {
		t.Fatal(err)
	}
	if uid == 0 {
		t.Fatalf("the image runs as root (config user %q): functions must not", cf.Config.User)
	}
	no, yes := false, true
	st := &Step{Step: pipelinev1.Step{
		Name: "function",
		Env:  []corev1.EnvVar{{Name: "PORT", Value: port}, {Name: "HOST", Value: "127.0.0.1"}},
		SecurityContext: &corev1.SecurityContext{
			RunAsUser: &uid, RunAsGroup: &gid, RunAsNonRoot: &yes, AllowPrivilegeEscalation: &no,
			Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}}
	runner := *e.Runner
	runner.Lower, runner.Image = root, cf.Config
	var body string
	out, err := runner.Run(ctx, Run{Step: st, Results: t.TempDir(), Timeout: 2 * time.Minute, Serve: func(ctx context.Context) error {
		deadline := time.Now().Add(60 * time.Second)
		var last error
		for time.Now().Before(deadline) {
			resp, err := http.Get("http://127.0.0.1:" + port + "/")
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					body = string(b)
					return nil
				}
				err = fmt.Errorf("GET /: %s", resp.Status)
			}
			last = err
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		return fmt.Errorf("no answer on port %s: %v", port, last)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.ServeErr != nil {
		t.Fatalf("the function did not answer: %v; its log:\n%s", out.ServeErr, out.Log)
	}
	return body, out
}

// resolveUser turns an image's USER (uid[:gid] or a name) into ids, reading
// the image's /etc/passwd and /etc/group for names.
func resolveUser(root, user string) (int64, int64, error) {
	if user == "" {
		return 0, 0, nil
	}
	u, g, hasGroup := strings.Cut(user, ":")
	uid, err := lookup(filepath.Join(root, "etc/passwd"), u, 2)
	if err != nil {
		return 0, 0, err
	}
	gid := int64(-1)
	if hasGroup {
		if gid, err = lookup(filepath.Join(root, "etc/group"), g, 2); err != nil {
			return 0, 0, err
		}
	} else if n, err := strconv.ParseInt(u, 10, 64); err == nil {
		gid = n // numeric user without a group: Kubernetes uses the uid's primary group; distroless's is the same number
	} else if gid, err = lookup(filepath.Join(root, "etc/passwd"), u, 3); err != nil {
		return 0, 0, err
	}
	return uid, gid, nil
}

// lookup returns a numeric id, or field of the line named s in a passwd-like file.
func lookup(file, s string, field int) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return 0, fmt.Errorf("user %q: %w", s, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), ":")
		if len(parts) > field && parts[0] == s {
			return strconv.ParseInt(parts[field], 10, 64)
		}
	}
	return 0, fmt.Errorf("user or group %q not in %s", s, file)
}
