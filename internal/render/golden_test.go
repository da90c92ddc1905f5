package render

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Regenerate with: go test ./internal/render -run TestGolden -update
var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden instead of comparing")

const (
	mainGo         = "package main\n\nfunc main() {}\n"
	userDockerfile = "FROM registry.example.com/team/base:7 AS build\nRUN make\nFROM gcr.io/distroless/static-debian12\nCOPY --from=build /out /out\n"
)

// goldenCases render one variant each. fixture copies a sample function;
// files add to (or make) the tree; env is the step's environment besides
// SOURCE_DIR and RESULTS_DIR.
var goldenCases = []struct {
	name    string
	fixture string
	files   map[string]string
	env     map[string]string
}{
	// The three sample functions: what the Kaniko issue builds for real.
	{name: "python-sample", fixture: "python"},
	{name: "node-sample", fixture: "node"},
	{name: "go-sample", fixture: "go"},

	{name: "python-pyproject", files: map[string]string{"pyproject.toml": "[project]\nname = \"fn\"\ndependencies = [\"flask>=3\"]\n", "app.py": ""}},
	{name: "python-procfile-shell", files: map[string]string{"requirements.txt": "gunicorn==23.0.0\n", "Procfile": "web: gunicorn app:app --bind 0.0.0.0:$PORT\n", "app.py": ""}},
	{name: "python-procfile-exec", files: map[string]string{"requirements.txt": "", "Procfile": "web: python -m server\n"}},
	{name: "python-no-manifest", files: map[string]string{"app.py": ""}, env: map[string]string{"LANGUAGE": "python"}},
	{name: "node-yarn", files: map[string]string{"package.json": `{"main": "index.js", "dependencies": {"left-pad": "1.3.0"}}`, "yarn.lock": "# yarn lockfile v1\n", "index.js": ""}},
	{name: "node-yarn-berry", files: map[string]string{"package.json": `{"scripts": {"start": "node server.js"}}`, "yarn.lock": "__metadata:\n  version: 8\n", ".yarnrc.yml": "nodeLinker: node-modules\n", ".yarn/releases/yarn-4.5.0.cjs": ""}},
	{name: "node-pnpm", files: map[string]string{"package.json": `{"scripts": {"start": "next start"}}`, "pnpm-lock.yaml": "lockfileVersion: '9.0'\n"}},
	{name: "node-shrinkwrap", files: map[string]string{"package.json": `{"main": "app.js"}`, "npm-shrinkwrap.json": "{}"}},
	{name: "node-no-lock", files: map[string]string{"package.json": `{"main": "app.js"}`, "app.js": ""}},
	{name: "go-cmd-gosum", files: map[string]string{"go.mod": "module example.com/fn\n\ngo 1.25\n", "go.sum": "", "cmd/server/main.go": mainGo}},
	{name: "go-vendor", files: map[string]string{"go.mod": "module example.com/fn\n\ngo 1.25\n", "go.sum": "", "vendor/modules.txt": "", "main.go": mainGo}},
	{name: "go-package-param", files: map[string]string{"go.mod": "module example.com/fn\n", "cmd/a/main.go": mainGo, "cmd/b/main.go": mainGo}, env: map[string]string{"GO_PACKAGE": "cmd/b"}},

	// Overrides and the mirror prefix.
	{name: "go-base-registry", fixture: "go", env: map[string]string{"BASE_REGISTRY": "127.0.0.1:5000"}},
	{name: "python-base-registry", fixture: "python", env: map[string]string{"BASE_REGISTRY": "127.0.0.1:5000"}},
	{name: "node-versions-and-mirror", fixture: "node", env: map[string]string{"NODE_VERSION": "22", "BASE_REGISTRY": "123456789012.dkr.ecr.eu-west-1.amazonaws.com"}},
	{name: "python-overrides", fixture: "python", env: map[string]string{
		"PYTHON_BASE_IMAGE": "registry.example.com/base/python@sha256:" + strings.Repeat("ab", 32),
		"BASE_REGISTRY":     "127.0.0.1:5000", // not applied to an explicit image
		"ENTRYPOINT":        `["gunicorn", "main:app", "--bind", "0.0.0.0:8080"]`,
		"BUILD_ARGS":        "PIP_EXTRA_INDEX_URL,PIP_TRUSTED_HOST",
	}},
	{name: "go-overrides", fixture: "go", env: map[string]string{
		"GO_VERSION":       "1.25",
		"GO_RUNTIME_IMAGE": "registry.example.com/static:nonroot",
		"BUILD_ARGS":       "GOFLAGS GONOSUMDB",
		"ENTRYPOINT":       `["/app/function", "--verbose"]`,
	}},
	{name: "dockerfile-in-subfolder", fixture: "go", env: map[string]string{"DOCKERFILE": "build/Dockerfile.fn"}},

	// The user's files.
	{name: "user-dockerfile-kept", fixture: "go", files: map[string]string{"Dockerfile": userDockerfile}},
	{name: "user-dockerfile-required", files: map[string]string{"Dockerfile": userDockerfile, "README.md": ""}, env: map[string]string{"DOCKERFILE_POLICY": "user"}},
	{name: "user-dockerfile-replaced", fixture: "node", files: map[string]string{"Dockerfile": userDockerfile}, env: map[string]string{"DOCKERFILE_POLICY": "render"}},
	{name: "user-dockerignore-kept", fixture: "python", files: map[string]string{".dockerignore": "secrets/\n"}},
	{name: "user-dockerfile-dockerignore-kept", fixture: "python", files: map[string]string{"Dockerfile.dockerignore": "secrets/\n"}},
}

// TestGolden renders each case and compares the Dockerfile, the
// .dockerignore and the results with testdata/golden/CASE/. A second run on
// a fresh copy must give the same bytes.
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			got := renderCase(t, tc.fixture, tc.files, tc.env)
			if again := renderCase(t, tc.fixture, tc.files, tc.env); !equalFiles(got, again) {
				t.Fatalf("two runs on the same input differ:\n%v\n%v", got, again)
			}
			dir := filepath.Join("testdata", "golden", tc.name)
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				writeTree(t, dir, got)
				return
			}
			for name, content := range got {
				want, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Errorf("%v (run go test ./internal/render -run TestGolden -update)", err)
					continue
				}
				if !bytes.Equal(want, []byte(content)) {
					t.Errorf("%s/%s differs from the golden file (run with -update if the change is intended):\n--- got\n%s\n--- want\n%s", dir, name, content, want)
				}
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if _, ok := got[e.Name()]; !ok {
					t.Errorf("golden %s/%s was not produced by this run", dir, e.Name())
				}
			}
		})
	}
}

// renderCase runs the step on a fresh tree and returns what a golden case
// records: the Dockerfile, the top .dockerignore (named "dockerignore") and
// the results (one NAME=VALUE line each, SOURCE_DIR written as $SOURCE_DIR).
func renderCase(t *testing.T, fixture string, files, env map[string]string) map[string]string {
	t.Helper()
	src := t.TempDir()
	if fixture != "" {
		src = copyFixture(t, fixture)
	}
	writeTree(t, src, files)
	full := map[string]string{"SOURCE_DIR": src}
	for k, v := range env {
		full[k] = v
	}
	results, err := run(t, full, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	dockerfile, err := os.ReadFile(results[ResultDockerfile])
	if err != nil {
		t.Fatalf("reading the DOCKERFILE result: %v", err)
	}
	out["Dockerfile"] = string(dockerfile)
	if b, err := os.ReadFile(filepath.Join(src, ".dockerignore")); err == nil {
		out["dockerignore"] = string(b)
	}
	var lines []string
	for _, k := range sortedKeys(results) {
		lines = append(lines, k+"="+strings.ReplaceAll(results[k], src, "$SOURCE_DIR"))
	}
	out["results"] = strings.Join(lines, "\n") + "\n"
	return out
}

func equalFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
