package render

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestRewriteRegistry(t *testing.T) {
	tests := []struct {
		ref, host, want, wantErr string
	}{
		{ref: "docker.io/library/python:3.12-slim", host: "127.0.0.1:5000", want: "127.0.0.1:5000/library/python:3.12-slim"},
		{ref: "gcr.io/distroless/static-debian12:nonroot", host: "127.0.0.1:5000", want: "127.0.0.1:5000/distroless/static-debian12:nonroot"},
		{ref: "docker.io/library/golang:1.26", host: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", want: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/library/golang:1.26"},
		{ref: "python:3.13-slim", host: "mirror.example.com", want: "mirror.example.com/library/python:3.13-slim"}, // Docker Hub's implicit library/
		{ref: "docker.io/library/node:24-slim", host: "localhost:5000", want: "localhost:5000/library/node:24-slim"},
		{ref: "docker.io/library/node:24-slim", host: "[::1]:5000", want: "[::1]:5000/library/node:24-slim"},
		{ref: "registry.example.com/a/b/c@sha256:" + strings.Repeat("a", 64), host: "127.0.0.1:5000", want: "127.0.0.1:5000/a/b/c@sha256:" + strings.Repeat("a", 64)},
		{ref: "docker.io/library/python:3.13-slim", host: "", want: "docker.io/library/python:3.13-slim"},
		{ref: "docker.io/library/python:3.13-slim", host: "127.0.0.1:5000/mirror", wantErr: "registry host"},
		{ref: "docker.io/library/python:3.13-slim", host: "https://mirror.example.com", wantErr: "registry host"},
		{ref: "docker.io/library/python:3.13-slim", host: "user:pw@mirror.example.com", wantErr: "registry host"},
		{ref: "docker.io/library/python:3.13-slim", host: "mirror example", wantErr: "registry host"},
		{ref: "docker.io/library/python:3.13-slim", host: "mirror\n", wantErr: "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.ref+" to "+tt.host, func(t *testing.T) {
			got, err := RewriteRegistry(tt.ref, tt.host)
			if !expectError(t, err, tt.wantErr) {
				return
			}
			if got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestDefaultImages(t *testing.T) {
	o, err := Config{SourceDir: "/src"}.Validate()
	if err != nil {
		t.Fatal(err)
	}
	want := Images{
		Python:    "docker.io/library/python:3.13-slim",
		Node:      "docker.io/library/node:24-slim",
		GoBuilder: "docker.io/library/golang:1.26",
		GoRuntime: "gcr.io/distroless/static-debian12:nonroot",
	}
	if o.Images != want {
		t.Errorf("defaults = %+v, want %+v", o.Images, want)
	}
	o, err = Config{SourceDir: "/src", BaseRegistry: "127.0.0.1:5000", PythonVersion: "3.12", NodeBaseImage: "registry.example.com/node:custom"}.Validate()
	if err != nil {
		t.Fatal(err)
	}
	want = Images{
		Python:    "127.0.0.1:5000/library/python:3.12-slim",
		Node:      "registry.example.com/node:custom", // an explicit override is used as given
		GoBuilder: "127.0.0.1:5000/library/golang:1.26",
		GoRuntime: "127.0.0.1:5000/distroless/static-debian12:nonroot",
	}
	if o.Images != want {
		t.Errorf("with BASE_REGISTRY = %+v, want %+v", o.Images, want)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		check   func(t *testing.T, o Options)
		wantErr string
	}{
		{name: "defaults", cfg: Config{SourceDir: "/src"}, check: func(t *testing.T, o Options) {
			if o.Language != Auto || o.Policy != PolicyAuto || o.DockerfileRel != "Dockerfile" || o.Entrypoint != nil || o.GoVersion != "1.26" || !o.GoBuilderIsDefault {
				t.Errorf("%+v", o)
			}
		}},
		{name: "case-insensitive enums", cfg: Config{SourceDir: "/src", Language: "Python", Policy: "RENDER"}, check: func(t *testing.T, o Options) {
			if o.Language != Python || o.Policy != PolicyRender {
				t.Errorf("%+v", o)
			}
		}},
		{name: "relative Dockerfile", cfg: Config{SourceDir: "/src", Dockerfile: "build/Dockerfile"}, check: func(t *testing.T, o Options) {
			if o.DockerfileRel != "build/Dockerfile" {
				t.Errorf("rel = %q", o.DockerfileRel)
			}
		}},
		{name: "absolute Dockerfile inside", cfg: Config{SourceDir: "/src", Dockerfile: "/src/x/Dockerfile.fn"}, check: func(t *testing.T, o Options) {
			if o.DockerfileRel != "x/Dockerfile.fn" {
				t.Errorf("rel = %q", o.DockerfileRel)
			}
		}},
		{name: "entrypoint", cfg: Config{SourceDir: "/src", Entrypoint: ` ["python", "-m", "app"] `}, check: func(t *testing.T, o Options) {
			if !reflect.DeepEqual(o.Entrypoint, []string{"python", "-m", "app"}) {
				t.Errorf("entrypoint = %q", o.Entrypoint)
			}
		}},
		{name: "build args", cfg: Config{SourceDir: "/src", BuildArgs: "GOFLAGS, GONOSUMDB GOFLAGS"}, check: func(t *testing.T, o Options) {
			if !reflect.DeepEqual(o.BuildArgs, []string{"GOFLAGS", "GONOSUMDB"}) {
				t.Errorf("build args = %q", o.BuildArgs)
			}
		}},
		{name: "go package", cfg: Config{SourceDir: "/src", GoPackage: "cmd/server/"}, check: func(t *testing.T, o Options) {
			if o.GoPackage != "./cmd/server" {
				t.Errorf("go package = %q", o.GoPackage)
			}
		}},
		{name: "builder override", cfg: Config{SourceDir: "/src", GoBuilderImage: "golang:1.27"}, check: func(t *testing.T, o Options) {
			if o.GoBuilderIsDefault || o.Images.GoBuilder != "golang:1.27" {
				t.Errorf("%+v", o)
			}
		}},
		{name: "no source", cfg: Config{}, wantErr: "SOURCE_DIR is empty"},
		{name: "unknown language", cfg: Config{SourceDir: "/src", Language: "ruby"}, wantErr: `LANGUAGE "ruby" is not supported`},
		{name: "unknown policy", cfg: Config{SourceDir: "/src", Policy: "maybe"}, wantErr: "DOCKERFILE_POLICY"},
		{name: "Dockerfile outside", cfg: Config{SourceDir: "/src", Dockerfile: "../Dockerfile"}, wantErr: "inside SOURCE_DIR"},
		{name: "Dockerfile absolute outside", cfg: Config{SourceDir: "/src", Dockerfile: "/etc/Dockerfile"}, wantErr: "inside SOURCE_DIR"},
		{name: "Dockerfile is the source", cfg: Config{SourceDir: "/src", Dockerfile: "/src"}, wantErr: "inside SOURCE_DIR"},
		{name: "Dockerfile glob", cfg: Config{SourceDir: "/src", Dockerfile: "*"}, wantErr: "plain path characters"},
		{name: "Dockerfile negation", cfg: Config{SourceDir: "/src", Dockerfile: "!x"}, wantErr: "plain path characters"},
		{name: "Dockerfile is an ignore file", cfg: Config{SourceDir: "/src", Dockerfile: "build/Dockerfile.dockerignore"}, wantErr: "ignore file"},
		{name: "bad version", cfg: Config{SourceDir: "/src", NodeVersion: "latest"}, wantErr: "NODE_VERSION"},
		{name: "bad go package", cfg: Config{SourceDir: "/src", GoPackage: "../other"}, wantErr: "GO_PACKAGE"},
		{name: "go package flag", cfg: Config{SourceDir: "/src", GoPackage: "-toolexec=x"}, wantErr: "GO_PACKAGE"},
		{name: "bad registry", cfg: Config{SourceDir: "/src", BaseRegistry: "a/b"}, wantErr: "BASE_REGISTRY"},
		{name: "bad override", cfg: Config{SourceDir: "/src", GoRuntimeImage: "UPPER/case"}, wantErr: "GO_RUNTIME_IMAGE"},
		{name: "entrypoint empty array", cfg: Config{SourceDir: "/src", Entrypoint: `[]`}, wantErr: "ENTRYPOINT is empty"},
		{name: "entrypoint empty program", cfg: Config{SourceDir: "/src", Entrypoint: `[""]`}, wantErr: "ENTRYPOINT is empty"},
		{name: "entrypoint not strings", cfg: Config{SourceDir: "/src", Entrypoint: `["a", 1]`}, wantErr: "JSON array of strings"},
		{name: "entrypoint too long", cfg: Config{SourceDir: "/src", Entrypoint: `["` + strings.Repeat(`\"`, 4000) + `", "` + strings.Repeat(`\"`, 4000) + `", "` + strings.Repeat(`\"`, 4000) + `"]`}, wantErr: "more than 16384 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := tt.cfg.Validate()
			if !expectError(t, err, tt.wantErr) {
				return
			}
			tt.check(t, o)
		})
	}
}

func TestExecForm(t *testing.T) {
	tests := []struct {
		cmd  string
		want []string
	}{
		{"python main.py", []string{"python", "main.py"}},
		{"  gunicorn   app:app  -w 2 ", []string{"gunicorn", "app:app", "-w", "2"}},
		{"gunicorn app:app --bind 0.0.0.0:$PORT", nil},
		{"python a.py && echo done", nil},
		{`python "my app.py"`, nil},
		{"node server.js > log", nil},
		{"", nil},
	}
	for _, tt := range tests {
		got, ok := execForm(tt.cmd)
		if ok != (tt.want != nil) || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("execForm(%q) = %q, %v; want %q", tt.cmd, got, ok, tt.want)
		}
	}
	if got := commandArgs("gunicorn app:app --bind :$PORT"); !reflect.DeepEqual(got, []string{"/bin/sh", "-c", "gunicorn app:app --bind :$PORT"}) {
		t.Errorf("commandArgs with $PORT = %q, want a shell", got)
	}
}

func TestExecJSONIsReadable(t *testing.T) {
	got, err := execJSON([]string{"node", "a&b<c>.js", `say "hi"`, `C:\x`})
	if err != nil {
		t.Fatal(err)
	}
	if want := `["node", "a&b<c>.js", "say \"hi\"", "C:\\x"]`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	// Found by the fuzzer: an argument that looks like the separator.
	for _, args := range [][]string{{`","`}, {","}, {`a", "b`}, {"", ""}} {
		line, err := execJSON(args)
		if err != nil {
			t.Fatal(err)
		}
		var back []string
		if err := json.Unmarshal([]byte(line), &back); err != nil || !reflect.DeepEqual(back, args) {
			t.Errorf("execJSON(%q) = %s, which reads back as %q (%v)", args, line, back, err)
		}
	}
}
