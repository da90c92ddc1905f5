package verify

import (
	"archive/tar"
	"reflect"
	"strings"
	"testing"

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
