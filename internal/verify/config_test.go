package verify

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

const digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
const digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

func TestLoadConfig(t *testing.T) {
	withConfig := t.TempDir()
	if err := os.WriteFile(filepath.Join(withConfig, "config.json"), []byte(`{"auths":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	secretStyle := t.TempDir()
	if err := os.WriteFile(filepath.Join(secretStyle, ".dockerconfigjson"), []byte(`{"auths":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c Config, tg target)
	}{
		{name: "defaults", env: map[string]string{"IMAGE_URL": "r.example/fn:1", "IMAGE_DIGEST": digestA},
			check: func(t *testing.T, c Config, tg target) {
				if c.Mode != ModeFull || c.MaxImageBytes != 1<<30 || c.MaxLayers != 127 || !c.CheckUser || !c.CheckCommand || !c.CheckSecrets || c.RequiredLabels != nil {
					t.Errorf("defaults: %+v", c)
				}
				if tg.tag == nil || tg.tag.TagStr() != "1" || tg.byDigest.String() != "r.example/fn@"+digestA || tg.platform.String() != "linux/amd64" {
					t.Errorf("target: %+v", tg)
				}
			}},
		{name: "every knob off", env: map[string]string{"IMAGE_URL": "r.example/fn:1", "IMAGE_DIGEST": digestA, "PLATFORM": "", "MAX_IMAGE_BYTES": "0", "MAX_LAYERS": "0",
			"CHECK_USER": "false", "CHECK_ENTRYPOINT": "false", "CHECK_SECRETS": "false", "REQUIRED_LABELS": "", "VERIFY_MODE": "FAST"},
			check: func(t *testing.T, c Config, tg target) {
				if c.Mode != ModeFast || c.MaxImageBytes != 0 || c.MaxLayers != 0 || c.CheckUser || c.CheckCommand || c.CheckSecrets || tg.platform != nil {
					t.Errorf("off: %+v %+v", c, tg)
				}
			}},
		{name: "labels list", env: map[string]string{"IMAGE_URL": "r.example/fn:1", "IMAGE_DIGEST": digestA, "REQUIRED_LABELS": " a, b ,,"},
			check: func(t *testing.T, c Config, _ target) {
				if !reflect.DeepEqual(c.RequiredLabels, []string{"a", "b"}) {
					t.Errorf("labels = %q", c.RequiredLabels)
				}
			}},
		{name: "digest in the URL alone", env: map[string]string{"IMAGE_URL": "r.example/fn@" + digestA},
			check: func(t *testing.T, _ Config, tg target) {
				if tg.tag != nil || tg.expected.String() != digestA {
					t.Errorf("target: %+v", tg)
				}
			}},
		{name: "tag and digest in the URL keep the tag", env: map[string]string{"IMAGE_URL": "r.example:5000/fn:v2@" + digestA, "IMAGE_DIGEST": digestA},
			check: func(t *testing.T, _ Config, tg target) {
				if tg.tag == nil || tg.tag.String() != "r.example:5000/fn:v2" {
					t.Errorf("tag = %v", tg.tag)
				}
			}},
		{name: "no tag means latest", env: map[string]string{"IMAGE_URL": "r.example/fn", "IMAGE_DIGEST": digestA},
			check: func(t *testing.T, _ Config, tg target) {
				if tg.tag == nil || tg.tag.TagStr() != "latest" {
					t.Errorf("tag = %v", tg.tag)
				}
			}},
		{name: "insecure registry", env: map[string]string{"IMAGE_URL": "r.example/fn:1", "IMAGE_DIGEST": digestA, "REGISTRY_INSECURE": "true"},
			check: func(t *testing.T, _ Config, tg target) {
				if tg.byDigest.Context().Scheme() != "http" || tg.tag.Context().Scheme() != "http" {
					t.Errorf("scheme = %s, want http", tg.byDigest.Context().Scheme())
				}
			}},
		{name: "secure by default", env: map[string]string{"IMAGE_URL": "r.example/fn:1", "IMAGE_DIGEST": digestA},
			check: func(t *testing.T, _ Config, tg target) {
				if tg.byDigest.Context().Scheme() != "https" {
					t.Errorf("scheme = %s, want https", tg.byDigest.Context().Scheme())
				}
			}},
		{name: "docker config folder", env: map[string]string{"IMAGE_URL": "r.example/fn:1", "IMAGE_DIGEST": digestA, "DOCKER_CONFIG": withConfig}},
		{name: "missing IMAGE_URL", env: map[string]string{"IMAGE_DIGEST": digestA}, wantErr: "IMAGE_URL"},
		{name: "bad IMAGE_URL", env: map[string]string{"IMAGE_URL": "UPPER/Case:1", "IMAGE_DIGEST": digestA}, wantErr: "IMAGE_URL"},
		{name: "bad digest", env: map[string]string{"IMAGE_URL": "r.example/fn:1", "IMAGE_DIGEST": "sha256:xyz"}, wantErr: "IMAGE_DIGEST"},
		{name: "no digest anywhere", env: map[string]string{"IMAGE_URL": "r.example/fn:1"}, wantErr: "IMAGE_DIGEST is empty"},
		{name: "digests disagree", env: map[string]string{"IMAGE_URL": "r.example/fn@" + digestA, "IMAGE_DIGEST": digestB}, wantErr: "pins " + digestA},
		{name: "bad platform", env: map[string]string{"IMAGE_URL": "r.example/fn:1", "IMAGE_DIGEST": digestA, "PLATFORM": "amd64"}, wantErr: "PLATFORM"},
		{name: "bad mode", env: map[string]string{"IMAGE_URL": "r.example/fn:1", "IMAGE_DIGEST": digestA, "VERIFY_MODE": "quick"}, wantErr: "VERIFY_MODE"},
		{name: "negative size", env: map[string]string{"IMAGE_URL": "r.example/fn:1", "IMAGE_DIGEST": digestA, "MAX_IMAGE_BYTES": "-1"}, wantErr: "MAX_IMAGE_BYTES"},
		{name: "size not a number", env: map[string]string{"IMAGE_URL": "r.example/fn:1", "IMAGE_DIGEST": digestA, "MAX_IMAGE_BYTES": "1GiB"}, wantErr: "MAX_IMAGE_BYTES"},
		{name: "promote without a tag to promote to", env: map[string]string{"IMAGE_URL": "r.example/fn@" + digestA, "PROMOTE": "true"}, wantErr: "PROMOTE=true needs a tag"},
		{name: "budget too small for a report", env: map[string]string{"IMAGE_URL": "r.example/fn:1", "IMAGE_DIGEST": digestA, "RESULTS_BUDGET": "512"}, wantErr: "RESULTS_BUDGET"},
		{name: "docker config without config.json", env: map[string]string{"IMAGE_URL": "r.example/fn:1", "IMAGE_DIGEST": digestA, "DOCKER_CONFIG": t.TempDir()}, wantErr: "has no config.json"},
		{name: "docker config from a dockerconfigjson secret", env: map[string]string{"IMAGE_URL": "r.example/fn:1", "IMAGE_DIGEST": digestA, "DOCKER_CONFIG": secretStyle}, wantErr: "path: config.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfigFrom(context.Background(), step.MapLookuper(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || step.ExitCode(err) != step.CodeConfig {
					t.Fatalf("err = %v (code %d), want a config error mentioning %q", err, step.ExitCode(err), tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tg, err := c.target()
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, c, tg)
			}
		})
	}
}
