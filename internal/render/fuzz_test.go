package render

import (
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzRender feeds arbitrary params and source files through the whole
// pipeline (Config.Validate, Detect, NewPlan, Render) and parses every
// Dockerfile that comes out with BuildKit's parser. Whatever the input, the
// result must have exactly the instructions of the template variant, with
// the images, build argument names and entrypoint in their places and
// nothing else. The seed corpus is testdata/fuzz/FuzzRender; `go test`
// runs it, `go test -fuzz FuzzRender ./internal/render` explores.
func FuzzRender(f *testing.F) {
	f.Add(uint8(0), "auto", "", "", "", "", "", "", "", "", "")
	f.Add(uint8(1), "node", `["node", "a.js\nRUN id"]`, "node:24", "24", "127.0.0.1:5000", "A,B", "", `{"main": "x.js"}`, "", "Dockerfile")
	f.Fuzz(func(t *testing.T, tree uint8, language, entrypoint, image, version, registry, buildArgs, procfile, packageJSON, goDir, dockerfile string) {
		cfg := Config{
			SourceDir: "/src", Language: language, Entrypoint: entrypoint, Dockerfile: dockerfile,
			PythonVersion: version, NodeVersion: version, GoVersion: version,
			PythonBaseImage: image, NodeBaseImage: image, GoRuntimeImage: image,
			BaseRegistry: registry, BuildArgs: buildArgs,
		}
		o, err := cfg.Validate()
		if err != nil {
			return
		}
		fsys := fuzzTree(tree, procfile, packageJSON, goDir)
		facts, err := Detect(fsys, o.Language, o.GoPackage)
		if err != nil {
			return
		}
		plan, err := NewPlan(o, facts)
		if err != nil {
			return
		}
		out, err := Render(plan)
		if err != nil {
			t.Fatalf("Render refused a plan built from validated options and facts: %v\n%+v", err, plan)
		}
		if err := compareWithTemplate(plan, out); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}

		ignore, err := RenderDockerignore(plan, o.DockerfileRel)
		if err != nil {
			t.Fatalf("RenderDockerignore refused a validated Dockerfile path %q: %v", o.DockerfileRel, err)
		}
		neutralIgnore, _ := RenderDockerignore(plan, "Dockerfile")
		if got, want := strings.Count(string(ignore), "\n"), strings.Count(string(neutralIgnore), "\n"); got != want {
			t.Fatalf(".dockerignore has %d lines, the template %d:\n%s", got, want, ignore)
		}
		if !strings.Contains(string(ignore), "\n"+o.DockerfileRel+"\n") {
			t.Fatalf(".dockerignore lacks the line %q:\n%s", o.DockerfileRel, ignore)
		}
	})
}

// fuzzTree builds a source tree of one of three shapes from fuzzed contents.
func fuzzTree(tree uint8, procfile, packageJSON, goDir string) fs.FS {
	m := fstest.MapFS{}
	add := func(name, content string) { m[name] = &fstest.MapFile{Data: []byte(content), Mode: 0o644} }
	switch tree % 3 {
	case 0:
		add("requirements.txt", "")
		add("main.py", "")
		if procfile != "" {
			add("Procfile", procfile)
		}
	case 1:
		add("package.json", packageJSON)
		add("package-lock.json", "{}")
	case 2:
		add("go.mod", "module example.com/fn\n")
		dir := strings.Trim(goDir, "/")
		if dir == "" || !fs.ValidPath(dir) {
			dir = "."
		}
		add(path.Join(dir, "main.go"), "package main\n")
	}
	return m
}

// Neutral values: the template variant with values that cannot inject.
const (
	neutralBuild   = "example.com/neutral/build:1"
	neutralRuntime = "example.com/neutral/runtime:1"
	neutralPackage = "./neutralpkg"
)

// compareWithTemplate compares a rendered Dockerfile with the same variant
// rendered from neutral values, instruction by instruction.
func compareWithTemplate(p Plan, out []byte) error {
	neutral := p
	neutral.BuildImage, neutral.RuntimeImage = neutralBuild, neutralRuntime
	neutral.Entrypoint = []string{"neutral"}
	neutral.BuildArgs = nil
	for i := range p.BuildArgs {
		neutral.BuildArgs = append(neutral.BuildArgs, fmt.Sprintf("NEUTRAL_%d", i))
	}
	if p.Language == Go {
		neutral.Go.Package = neutralPackage
	}
	want, err := Render(neutral)
	if err != nil {
		return fmt.Errorf("the neutral plan does not render: %v", err)
	}
	got, err := parseDockerfile(out)
	if err != nil {
		return err
	}
	exp, err := parseDockerfile(want)
	if err != nil {
		return fmt.Errorf("the template itself: %v", err)
	}
	if !reflect.DeepEqual(commands(got), commands(exp)) {
		return fmt.Errorf("instructions %v, the template has %v", commands(got), commands(exp))
	}
	// Map each neutral value back to the real one; then every instruction
	// must match the template's exactly.
	back := map[string]string{neutralBuild: p.BuildImage, neutralRuntime: p.RuntimeImage}
	for i, a := range p.BuildArgs {
		back[neutral.BuildArgs[i]] = a
	}
	for i, e := range exp {
		switch {
		case e.Cmd == "entrypoint":
			e.Args = p.Entrypoint
		case e.Cmd == "run" && p.Language == Go:
			e.Args = []string{strings.ReplaceAll(e.Args[0], neutralPackage, p.Go.Package)}
		default:
			args := make([]string, len(e.Args))
			for j, a := range e.Args {
				if r, ok := back[a]; ok {
					a = r
				}
				args[j] = a
			}
			e.Args = args
		}
		if !reflect.DeepEqual(got[i].Args, e.Args) || got[i].JSON != e.JSON || !reflect.DeepEqual(got[i].Flags, e.Flags) {
			return fmt.Errorf("instruction %d is %+v, the template gives %+v", i, got[i], e)
		}
	}
	return nil
}

// TestCompareWithTemplateCatchesInjection proves the fuzzer's oracle can
// fail: each change below is what an injection would do to a Dockerfile.
func TestCompareWithTemplateCatchesInjection(t *testing.T) {
	p := Plan{Language: Go, BuildImage: "golang:1.26", RuntimeImage: "gcr.io/distroless/static-debian12:nonroot",
		Entrypoint: []string{"/app/function", "$(id)"}, BuildArgs: []string{"GOFLAGS"}, Go: GoFacts{Package: "./cmd/x"}}
	out, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := compareWithTemplate(p, out); err != nil {
		t.Fatalf("the real output fails the oracle: %v", err)
	}
	tests := []struct{ name, old, new string }{
		{"extra instruction", "USER 65532:65532\n", "USER 65532:65532\nRUN id\n"},
		{"another user", "USER 65532:65532", "USER 0"},
		{"shell-form entrypoint", `ENTRYPOINT ["/app/function", "$(id)"]`, `ENTRYPOINT /app/function $(id)`},
		{"entrypoint argument changed", `"$(id)"]`, `"id"]`},
		{"another image", "FROM golang:1.26 AS build", "FROM evil:1 AS build"},
		{"another build arg", "ARG GOFLAGS", "ARG EVIL"},
		{"flag added", "COPY --from=build", "COPY --chown=0:0 --from=build"},
		{"joined line", "USER 65532:65532\n", "USER 65532:65532 \\\n"},
		{"package changed", "./cmd/x", "./cmd/y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.Replace(string(out), tt.old, tt.new, 1)
			if bad == string(out) {
				t.Fatalf("%q is not in the output", tt.old)
			}
			if err := compareWithTemplate(p, []byte(bad)); err == nil {
				t.Errorf("the oracle accepts:\n%s", bad)
			}
		})
	}
}
