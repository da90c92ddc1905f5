package verify

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// fakeHelper stands for ecr-login: it records the hosts it was asked about.
type fakeHelper struct {
	asked []string
	panic bool
}

func (h *fakeHelper) Get(server string) (string, string, error) {
	h.asked = append(h.asked, server)
	if h.panic {
		panic("failed to load AWS config")
	}
	if strings.Contains(server, ".dkr.ecr.") {
		return "AWS", "ecr-token", nil
	}
	return "", "", errors.New("not an ECR registry")
}

func TestKeychain(t *testing.T) {
	// A docker config (the dockerconfig workspace) with credentials for one
	// private registry, read through DOCKER_CONFIG.
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("robot:docker-pass"))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"registry.example.com":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("HOME", t.TempDir())

	tests := []struct {
		name      string
		ref       string
		panic     bool
		wantUser  string // "" for anonymous
		wantAsked bool   // the ECR helper was consulted
	}{
		{name: "ECR through ecr-login", ref: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/fn:1", wantUser: "AWS", wantAsked: true},
		{name: "other registry through the docker config", ref: "registry.example.com/fn:1", wantUser: "robot"},
		{name: "unknown registry is anonymous, ECR never asked", ref: "127.0.0.1:5000/fn:1"},
		{name: "ecr-login panicking falls back", ref: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/fn:1", panic: true, wantAsked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &fakeHelper{panic: tt.panic}
			var log bytes.Buffer
			ref, err := name.ParseReference(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			a, err := keychainWith(h, &log).Resolve(ref.Context())
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := a.Authorization()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Username != tt.wantUser || (tt.wantUser == "" && a != authn.Anonymous) {
				t.Errorf("user = %q (%T), want %q", cfg.Username, a, tt.wantUser)
			}
			if (len(h.asked) > 0) != tt.wantAsked {
				t.Errorf("ECR helper asked about %v, want asked=%v", h.asked, tt.wantAsked)
			}
			if tt.panic && !strings.Contains(log.String(), "could not load the AWS configuration") {
				t.Errorf("log = %q, want the fallback explained", log.String())
			}
			for _, secret := range []string{"docker-pass", "ecr-token", auth} {
				if strings.Contains(log.String(), secret) {
					t.Errorf("log leaks a credential: %q", log.String())
				}
			}
		})
	}
}
