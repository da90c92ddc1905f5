package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ToolsDir is the cache `make tools` builds into: $LB_TOOLS_DIR, else
// ~/.cache/lambda-builder/tools. Its bin/ folder holds one entry per tool.
func ToolsDir() string {
	if d := os.Getenv("LB_TOOLS_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "lambda-builder", "tools")
}

// Tool returns the path of a tool: the tool cache first, then PATH. A missing
// tool fails the test; it never skips it.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := LookTool(name)
	if err != nil {
		t.Fatalf("tool %s not found in %s or PATH: run `make tools` (or .ci/run, which installs everything)", name, filepath.Join(ToolsDir(), "bin"))
	}
	return p
}

// LookTool is Tool without a test: the path, or an error.
func LookTool(name string) (string, error) {
	p := filepath.Join(ToolsDir(), "bin", name)
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return p, nil
	}
	return exec.LookPath(name)
}
