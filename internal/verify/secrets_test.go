package verify

import (
	"archive/tar"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/knative-lambda/lambda-builder/internal/verify/verifytest"
)

type file = verifytest.File

func TestSecretScan(t *testing.T) {
	tests := []struct {
		name  string
		files []file
		want  []string // "what at path"
	}{
		{"aws credentials under a home", []file{{Path: "./root/.aws/credentials", Body: "[default]"}}, []string{"AWS credentials at root/.aws/credentials"}},
		{"aws credentials at the root", []file{{Path: ".aws/credentials"}}, []string{"AWS credentials at .aws/credentials"}},
		{"aws config is not credentials", []file{{Path: "root/.aws/config"}}, nil},
		{"credentials outside .aws", []file{{Path: "app/aws/credentials"}}, nil},
		{"docker config", []file{{Path: "home/u/.docker/config.json", Body: "{}"}}, []string{"Docker registry credentials at home/u/.docker/config.json"}},
		{"config.json elsewhere", []file{{Path: "app/config.json"}}, nil},
		{"ssh keys, not public ones", []file{{Path: "root/.ssh/id_rsa"}, {Path: "root/.ssh/id_rsa.pub"}, {Path: "x/id_ed25519"}, {Path: "id_ecdsa"}},
			[]string{"SSH private key at root/.ssh/id_rsa", "SSH private key at x/id_ed25519", "SSH private key at id_ecdsa"}},
		{"npmrc with a token", []file{{Path: "app/.npmrc", Body: "registry=https://r/\n//r/:_authToken=abc123\n"}}, []string{"npm auth token at app/.npmrc"}},
		{"npmrc with basic auth", []file{{Path: ".npmrc", Body: "_auth = dXNlcjpwYXNz\n"}}, []string{"npm auth token at .npmrc"}},
		{"npmrc reading the token from env", []file{{Path: ".npmrc", Body: "//r/:_authToken=${NPM_TOKEN}\n_auth=\"${NPM_AUTH}\"\n"}}, nil},
		{"npmrc without auth", []file{{Path: ".npmrc", Body: "registry=https://r/\nalways-auth=true\n"}}, nil},
		{"dotenv and its variants", []file{{Path: "app/.env"}, {Path: "app/.env.production"}, {Path: "app/.env.example"}, {Path: "app/env"}},
			[]string{"dotenv file at app/.env", "dotenv file at app/.env.production"}},
		{"a .env folder (a virtualenv) is not a file", []file{{Path: "app/.env/", Type: tar.TypeDir}, {Path: "app/.env/bin/python"}}, nil},
		{"git credentials", []file{{Path: "root/.git-credentials", Body: "https://u:p@github.com"}}, []string{"git credentials at root/.git-credentials"}},
		{"pypirc with a password", []file{{Path: "root/.pypirc", Body: "[pypi]\nusername = u\npassword = p\n"}}, []string{"PyPI password at root/.pypirc"}},
		{"pypirc without one", []file{{Path: "root/.pypirc", Body: "[pypi]\nusername = __token__\npassword =\n"}}, nil},
		{"a symlink points elsewhere", []file{{Path: "root/.aws/credentials", Type: tar.TypeSymlink}}, nil},
		{"a hard link is the file", []file{{Path: "root/.ssh/id_rsa", Type: tar.TypeLink}}, []string{"SSH private key at root/.ssh/id_rsa"}},
		{"a whiteout is a marker", []file{{Path: "root/.aws/.wh.credentials"}, {Path: "root/.ssh/.wh.id_rsa"}}, nil},
		{"a path escaping the root is cleaned", []file{{Path: "../../root/.aws/credentials"}}, []string{"AWS credentials at root/.aws/credentials"}},
		{"token after the read limit is not seen", []file{{Path: ".npmrc", Body: strings.Repeat("#\n", maxSecretRead) + "_authToken=late\n"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := verifytest.Layer(tt.files...)
			if err != nil {
				t.Fatal(err)
			}
			s, err := scanLayer(l, scanOptions{diffID: true, secrets: true}, nil)
			if err != nil || s.problem != "" || !s.walked {
				t.Fatalf("scan: err %v, problem %q, walked %v", err, s.problem, s.walked)
			}
			var got []string
			for _, f := range s.findings {
				got = append(got, f.What+" at "+f.Path)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("findings = %q, want %q", got, tt.want)
			}
			want, _ := l.DiffID()
			if s.diffID != want {
				t.Errorf("diff_id = %s, want %s", s.diffID, want)
			}
		})
	}
}

func TestScanKeepsPasswd(t *testing.T) {
	l, err := verifytest.Layer(file{Path: "etc/passwd", Body: verifytest.Passwd})
	if err != nil {
		t.Fatal(err)
	}
	s, err := scanLayer(l, scanOptions{}, nil)
	if err != nil || !s.hasPasswd || string(s.passwd) != verifytest.Passwd {
		t.Fatalf("passwd = %q (%v), err %v", s.passwd, s.hasPasswd, err)
	}
	if s.diffID.Hex != "" {
		t.Errorf("fast mode hashed the layer: %s", s.diffID)
	}
}

func once(_ context.Context, f func() error) error { return f() }

// TestScanMemoryStaysBounded: what a scan keeps does not grow with what a
// hostile image holds.
func TestScanMemoryStaysBounded(t *testing.T) {
	t.Run("ten thousand secret files keep 20 findings", func(t *testing.T) {
		files := []file{{Path: strings.Repeat("long/", 1000) + ".env"}}
		for i := range 10000 {
			files = append(files, file{Path: fmt.Sprintf("k/%d/id_rsa", i)})
		}
		l, err := verifytest.Layer(files...)
		if err != nil {
			t.Fatal(err)
		}
		s, err := scanLayer(l, scanOptions{secrets: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.secrets != 10001 || len(s.findings) != maxReportedSecrets {
			t.Errorf("counted %d, kept %d findings; want 10001 and %d", s.secrets, len(s.findings), maxReportedSecrets)
		}
		if n := len(s.findings[0].Path); n > maxReportedPath {
			t.Errorf("kept a path of %d bytes", n)
		}
	})
	t.Run("only the top-most /etc/passwd is kept", func(t *testing.T) {
		var layers []v1.Layer
		for i := range 10 {
			l, err := verifytest.Layer(file{Path: "etc/passwd", Body: fmt.Sprintf("app:x:%d:0::/:/bin/sh\n", 1000+i)})
			if err != nil {
				t.Fatal(err)
			}
			layers = append(layers, l)
		}
		scans, err := scanLayers(context.Background(), layers, scanOptions{jobs: 4, retry: once}, nil)
		if err != nil {
			t.Fatal(err)
		}
		kept := 0
		for _, s := range scans {
			if s.passwd != nil {
				kept++
			}
		}
		if top := string(topPasswd(scans)); kept != 1 || !strings.Contains(top, ":1009:") {
			t.Errorf("kept %d passwd files, top %q; want only layer 9's", kept, top)
		}
	})
}
