package harness

import (
	"io"
	"net/http"
	"net/http/cgi"
	"os/exec"
	"path/filepath"
	"strings"
)

// GitHTTPHandler is git's own smart HTTP server (git http-backend, found
// through `git --exec-path`) behind Go's CGI handler, serving every bare
// repository under root. env is added to the backend's environment.
func GitHTTPHandler(git, root string, env ...string) (http.Handler, error) {
	out, err := exec.Command(git, "--exec-path").Output()
	if err != nil {
		return nil, err
	}
	return &cgi.Handler{
		Path:   filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"),
		Env:    append([]string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}, env...),
		Stderr: io.Discard, // "Not a git repository" for a missing one
	}, nil
}
