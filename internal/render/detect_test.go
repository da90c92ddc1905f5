package render

import (
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for name, content := range files {
		if strings.HasSuffix(name, "/") {
			m[strings.TrimSuffix(name, "/")] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
			continue
		}
		m[name] = &fstest.MapFile{Data: []byte(content), Mode: 0o644}
	}
	return m
}

func TestDetectLanguage(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    Language
		wantErr []string // substrings of the error
	}{
		{name: "requirements.txt", files: map[string]string{"requirements.txt": "", "main.py": ""}, want: Python},
		{name: "pyproject.toml", files: map[string]string{"pyproject.toml": ""}, want: Python},
		{name: "both python manifests", files: map[string]string{"pyproject.toml": "", "requirements.txt": ""}, want: Python},
		{name: "package.json", files: map[string]string{"package.json": "{}"}, want: Node},
		{name: "go.mod", files: map[string]string{"go.mod": "module x\n"}, want: Go},
		{name: "empty tree", files: map[string]string{}, wantErr: []string{"no Python, Node or Go project", "which holds nothing", "set LANGUAGE"}},
		{name: "no marker", files: map[string]string{"README.md": "", "src/": ""}, wantErr: []string{"no Python, Node or Go project", `"README.md", "src/"`}},
		{name: "marker below the top only", files: map[string]string{"app/requirements.txt": ""}, wantErr: []string{"no Python, Node or Go project", `"app/"`}},
		{name: "a folder named like a marker", files: map[string]string{"go.mod/": ""}, wantErr: []string{"no Python, Node or Go project"}},
		{name: "python and node", files: map[string]string{"requirements.txt": "", "package.json": "{}"},
			wantErr: []string{"several languages", "requirements.txt (python), package.json (node)", "set LANGUAGE"}},
		{name: "all three", files: map[string]string{"pyproject.toml": "", "package.json": "{}", "go.mod": ""},
			wantErr: []string{"pyproject.toml (python), package.json (node), go.mod (go)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DetectLanguage(mapFS(tt.files))
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("detected %s, want an error", got)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestDetectPython(t *testing.T) {
	tests := []struct {
		name         string
		files        map[string]string
		wantManifest string
		wantEntry    []string
		wantErr      string
	}{
		{name: "requirements and main.py", files: map[string]string{"requirements.txt": "", "main.py": "", "app.py": ""}, wantManifest: "requirements.txt", wantEntry: []string{"python", "main.py"}},
		{name: "app.py", files: map[string]string{"requirements.txt": "", "app.py": ""}, wantManifest: "requirements.txt", wantEntry: []string{"python", "app.py"}},
		{name: "requirements win over pyproject", files: map[string]string{"pyproject.toml": "", "requirements.txt": "", "main.py": ""}, wantManifest: "requirements.txt", wantEntry: []string{"python", "main.py"}},
		{name: "pyproject", files: map[string]string{"pyproject.toml": "", "main.py": ""}, wantManifest: "pyproject.toml", wantEntry: []string{"python", "main.py"}},
		{name: "no manifest", files: map[string]string{"main.py": ""}, wantEntry: []string{"python", "main.py"}},
		{name: "Procfile plain", files: map[string]string{"requirements.txt": "", "Procfile": "worker: python w.py\nweb: python server.py\n", "main.py": ""},
			wantManifest: "requirements.txt", wantEntry: []string{"python", "server.py"}},
		{name: "Procfile with CRLF", files: map[string]string{"requirements.txt": "", "Procfile": "web: python server.py\r\n"},
			wantManifest: "requirements.txt", wantEntry: []string{"python", "server.py"}},
		{name: "Procfile needing a shell", files: map[string]string{"requirements.txt": "", "Procfile": "web: gunicorn app:app --bind 0.0.0.0:$PORT\n"},
			wantManifest: "requirements.txt", wantEntry: []string{"/bin/sh", "-c", "gunicorn app:app --bind 0.0.0.0:$PORT"}},
		{name: "Procfile without web", files: map[string]string{"requirements.txt": "", "Procfile": "worker: python w.py\n", "app.py": ""},
			wantManifest: "requirements.txt", wantEntry: []string{"python", "app.py"}},
		{name: "no entrypoint", files: map[string]string{"requirements.txt": "", "server.py": ""}, wantManifest: "requirements.txt"},
		{name: "Procfile web empty", files: map[string]string{"requirements.txt": "", "Procfile": "web:\n"}, wantErr: "no command"},
		{name: "Procfile control character", files: map[string]string{"requirements.txt": "", "Procfile": "web: python a.py\rRUN id\n"}, wantErr: "control character"},
		{name: "Procfile line separator", files: map[string]string{"requirements.txt": "", "Procfile": "web: python a.py\u2028RUN id\n"}, wantErr: "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Detect(mapFS(tt.files), Python, "")
			if !expectError(t, err, tt.wantErr) {
				return
			}
			if f.Python.Manifest != tt.wantManifest || !reflect.DeepEqual(f.Entrypoint, tt.wantEntry) {
				t.Errorf("got manifest %q entry %q; want %q %q", f.Python.Manifest, f.Entrypoint, tt.wantManifest, tt.wantEntry)
			}
		})
	}
}

func TestDetectNode(t *testing.T) {
	const startNode = `{"scripts": {"start": "node server.js"}}`
	tests := []struct {
		name      string
		files     map[string]string
		want      NodeFacts
		wantEntry []string
		wantErr   string
	}{
		{name: "npm", files: map[string]string{"package.json": startNode, "package-lock.json": "{}"},
			want: NodeFacts{Manager: "npm", LockFile: "package-lock.json"}, wantEntry: []string{"node", "server.js"}},
		{name: "npm shrinkwrap", files: map[string]string{"package.json": startNode, "npm-shrinkwrap.json": "{}"},
			want: NodeFacts{Manager: "npm", LockFile: "npm-shrinkwrap.json"}, wantEntry: []string{"node", "server.js"}},
		{name: "yarn classic", files: map[string]string{"package.json": startNode, "yarn.lock": "# THIS IS AN AUTOGENERATED FILE.\n# yarn lockfile v1\n"},
			want: NodeFacts{Manager: "yarn", LockFile: "yarn.lock"}, wantEntry: []string{"node", "server.js"}},
		{name: "yarn berry", files: map[string]string{"package.json": startNode, "yarn.lock": "__metadata:\n  version: 8\n", ".yarnrc.yml": "nodeLinker: node-modules\n", ".yarn/releases/yarn-4.cjs": ""},
			want: NodeFacts{Manager: "yarn-berry", LockFile: "yarn.lock", YarnRC: true, YarnReleases: true}, wantEntry: []string{"node", "server.js"}},
		{name: "yarn berry with Plug'n'Play", files: map[string]string{"package.json": startNode, "yarn.lock": "__metadata:\n  version: 8\n"}, wantErr: "nodeLinker: node-modules"},
		{name: "yarn berry with another linker", files: map[string]string{"package.json": startNode, "yarn.lock": "__metadata:\n", ".yarnrc.yml": "nodeLinker: pnp\n"}, wantErr: "nodeLinker: node-modules"},
		{name: "pnpm", files: map[string]string{"package.json": startNode, "pnpm-lock.yaml": "lockfileVersion: '9.0'\n"},
			want: NodeFacts{Manager: "pnpm", LockFile: "pnpm-lock.yaml"}, wantEntry: []string{"node", "server.js"}},
		{name: "no lock, no dependencies", files: map[string]string{"package.json": `{"main": "index.js"}`},
			want: NodeFacts{}, wantEntry: []string{"node", "index.js"}},
		{name: "no lock, vendored node_modules", files: map[string]string{"package.json": `{"main": "a.js", "dependencies": {"x": "1"}}`, "node_modules/x/index.js": ""},
			want: NodeFacts{}, wantEntry: []string{"node", "a.js"}},
		{name: "start with node flags", files: map[string]string{"package.json": `{"scripts": {"start": "node --enable-source-maps dist/server.js"}}`, "package-lock.json": "{}"},
			want: NodeFacts{Manager: "npm", LockFile: "package-lock.json"}, wantEntry: []string{"node", "--enable-source-maps", "dist/server.js"}},
		{name: "start needing npm", files: map[string]string{"package.json": `{"scripts": {"start": "NODE_OPTIONS=--max-old-space-size=256 node s.js"}, "main": "s.js"}`, "package-lock.json": "{}"},
			want: NodeFacts{Manager: "npm", LockFile: "package-lock.json"}, wantEntry: []string{"npm", "start"}},
		{name: "start with another program", files: map[string]string{"package.json": `{"scripts": {"start": "next start"}}`, "package-lock.json": "{}"},
			want: NodeFacts{Manager: "npm", LockFile: "package-lock.json"}, wantEntry: []string{"npm", "start"}},
		{name: "main", files: map[string]string{"package.json": `{"main": "lib/app.js"}`, "package-lock.json": "{}"},
			want: NodeFacts{Manager: "npm", LockFile: "package-lock.json"}, wantEntry: []string{"node", "lib/app.js"}},
		{name: "index.js", files: map[string]string{"package.json": `{}`, "package-lock.json": "{}", "index.js": ""},
			want: NodeFacts{Manager: "npm", LockFile: "package-lock.json"}, wantEntry: []string{"node", "index.js"}},
		{name: "no entrypoint", files: map[string]string{"package.json": `{}`, "package-lock.json": "{}"},
			want: NodeFacts{Manager: "npm", LockFile: "package-lock.json"}},
		{name: "several lock files", files: map[string]string{"package.json": startNode, "package-lock.json": "{}", "yarn.lock": ""}, wantErr: "several lock files (package-lock.json, yarn.lock)"},
		{name: "dependencies without lock", files: map[string]string{"package.json": `{"main": "a.js", "dependencies": {"express": "^4"}}`}, wantErr: "no lock file"},
		{name: "no package.json", files: map[string]string{"index.js": ""}, wantErr: "no package.json"},
		{name: "broken package.json", files: map[string]string{"package.json": `{"main": `}, wantErr: "package.json"},
		{name: "main with a newline", files: map[string]string{"package.json": `{"main": "a.js\nRUN id"}`}, wantErr: "control character"},
		{name: "start with a newline", files: map[string]string{"package.json": `{"scripts": {"start": "node a.js\nRUN id"}}`}, wantErr: "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Detect(mapFS(tt.files), Node, "")
			if !expectError(t, err, tt.wantErr) {
				return
			}
			if f.Node != tt.want || !reflect.DeepEqual(f.Entrypoint, tt.wantEntry) {
				t.Errorf("got %+v entry %q; want %+v %q", f.Node, f.Entrypoint, tt.want, tt.wantEntry)
			}
		})
	}
}

func TestDetectGo(t *testing.T) {
	const mod = "module example.com/fn\n\ngo 1.24\n"
	const mainGo = "// Command x.\npackage main\n\nfunc main() {}\n"
	tests := []struct {
		name      string
		files     map[string]string
		goPackage string
		want      GoFacts
		wantErr   string
	}{
		{name: "main at the root", files: map[string]string{"go.mod": mod, "main.go": mainGo, "cmd/tool/main.go": mainGo},
			want: GoFacts{Package: ".", GoVersion: "1.24"}},
		{name: "one cmd", files: map[string]string{"go.mod": mod, "go.sum": "", "cmd/server/main.go": mainGo, "internal/x/x.go": "package x\n"},
			want: GoFacts{Package: "./cmd/server", GoSum: true, GoVersion: "1.24"}},
		{name: "vendored", files: map[string]string{"go.mod": mod, "go.sum": "", "vendor/modules.txt": "", "vendor/example.com/dep/main.go": mainGo, "main.go": mainGo},
			want: GoFacts{Package: ".", GoSum: true, Vendor: true, GoVersion: "1.24"}},
		{name: "skips testdata, hidden, _ folders and nested modules", files: map[string]string{"go.mod": mod, "app/main.go": mainGo, "testdata/x/main.go": mainGo,
			".hidden/main.go": mainGo, "_old/main.go": mainGo, "tools/go.mod": "module tools\n", "tools/main.go": mainGo}, want: GoFacts{Package: "./app", GoVersion: "1.24"}},
		{name: "test files are not the main package", files: map[string]string{"go.mod": mod, "main_test.go": mainGo, "srv/main.go": mainGo},
			want: GoFacts{Package: "./srv", GoVersion: "1.24"}},
		{name: "GO_PACKAGE chooses", files: map[string]string{"go.mod": mod, "cmd/a/main.go": mainGo, "cmd/b/main.go": mainGo}, goPackage: "./cmd/b",
			want: GoFacts{Package: "./cmd/b", GoVersion: "1.24"}},
		{name: "no go directive", files: map[string]string{"go.mod": "module x\n", "main.go": mainGo}, want: GoFacts{Package: "."}},
		{name: "several main packages", files: map[string]string{"go.mod": mod, "cmd/a/main.go": mainGo, "cmd/b/main.go": mainGo}, wantErr: "several main packages (./cmd/a, ./cmd/b): set GO_PACKAGE"},
		{name: "no main package", files: map[string]string{"go.mod": mod, "lib.go": "package lib\n"}, wantErr: "no main package"},
		{name: "GO_PACKAGE is a library", files: map[string]string{"go.mod": mod, "main.go": mainGo, "lib/lib.go": "package lib\n"}, goPackage: "./lib", wantErr: "holds no Go files of package main"},
		{name: "GO_PACKAGE missing", files: map[string]string{"go.mod": mod, "main.go": mainGo}, goPackage: "./nope", wantErr: "holds no Go files of package main"},
		{name: "main package in a hostile folder name", files: map[string]string{"go.mod": mod, "$(id)/main.go": mainGo}, wantErr: "not a package directory"},
		{name: "main package in a folder with a space", files: map[string]string{"go.mod": mod, "my app/main.go": mainGo}, wantErr: "not a package directory"},
		{name: "no go.mod", files: map[string]string{"main.go": mainGo}, wantErr: "no go.mod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Detect(mapFS(tt.files), Go, tt.goPackage)
			if !expectError(t, err, tt.wantErr) {
				return
			}
			if f.Go != tt.want || !reflect.DeepEqual(f.Entrypoint, []string{"/app/function"}) {
				t.Errorf("got %+v entry %q; want %+v", f.Go, f.Entrypoint, tt.want)
			}
		})
	}
}

func TestFromImages(t *testing.T) {
	tests := []struct {
		name, dockerfile string
		want             []string
	}{
		{"one stage", "FROM python:3.12\nRUN x\n", []string{"python:3.12"}},
		{"stages and scratch", "FROM golang:1.26 AS build\nFROM build AS test\nFROM scratch\nCOPY --from=build /x /x\n", []string{"golang:1.26"}},
		{"platform flag, case, comments", "# syntax=docker/dockerfile:1\nfrom --platform=$BUILDPLATFORM node:24 as deps\n# FROM commented:1\nFROM gcr.io/distroless/nodejs24\n", []string{"node:24", "gcr.io/distroless/nodejs24"}},
		{"continuation", "FROM \\\n  registry.example.com/base:1 \\\n  AS base\nFROM base\n", []string{"registry.example.com/base:1"}},
		{"escape directive", "# escape=`\nFROM `\n  windows:1\n", []string{"windows:1"}},
		{"ARG reported as written", "ARG BASE=python:3.12\nFROM ${BASE}\n", []string{"${BASE}"}},
		{"repeats once", "FROM a:1 AS x\nFROM a:1 AS y\n", []string{"a:1"}},
		{"CRLF", "FROM a:1\r\nRUN x\r\n", []string{"a:1"}},
		{"none", "# empty\n", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FromImages([]byte(tt.dockerfile)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	many := strings.Repeat("FROM x\n", 1)
	for i := range 40 {
		many += "FROM img" + strings.Repeat("a", i) + ":1\n"
	}
	if got := FromImages([]byte(many)); len(got) != maxReportedImages {
		t.Errorf("reported %d images, want the cap %d", len(got), maxReportedImages)
	}
}
