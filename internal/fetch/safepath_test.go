package fetch

import (
	"strings"
	"testing"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

func TestCleanPath(t *testing.T) {
	tests := []struct {
		name    string
		want    string
		wantErr string
	}{
		{name: "a.txt", want: "a.txt"},
		{name: "dir/sub/file.py", want: "dir/sub/file.py"},
		{name: "./a//b/./c", want: "a/b/c"},
		{name: "dir/", want: "dir"},
		{name: "./", want: ""},
		{name: "", want: ""},
		{name: "..data/x", want: "..data/x"}, // a name starting with dots is fine
		{name: "a/...", want: "a/..."},
		{name: "../evil", wantErr: `".." component`},
		{name: "a/../../evil", wantErr: `".." component`},
		{name: "a/../b", wantErr: `".." component`}, // folds inside, but crafted
		{name: "a/..", wantErr: `".." component`},
		{name: "/etc/passwd", wantErr: "absolute path"},
		{name: `..\..\evil`, wantErr: "backslash"},
		{name: `dir\file`, wantErr: "backslash"},
		{name: "a\x00b", wantErr: "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cleanPath("archive entry", tt.name)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("cleanPath(%q) = %q, %v; want an error about %s", tt.name, got, err, tt.wantErr)
				}
				if step.ExitCode(err) != step.CodeInput || step.Reason(err) != ReasonUnsafePath {
					t.Errorf("exit %d reason %s, want %d %s", step.ExitCode(err), step.Reason(err), step.CodeInput, ReasonUnsafePath)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("cleanPath(%q) = %q, %v; want %q", tt.name, got, err, tt.want)
			}
		})
	}
}

func TestLinkTargetInside(t *testing.T) {
	tests := []struct {
		link, target string
		want         bool
	}{
		{"a", "b", true},
		{"node_modules/.bin/x", "../x/cli.js", true},
		{"a/b/c", "../../d", true},
		{"a/b", "../..", false},
		{"a", "..", false},
		{"a", "../x", false},
		{"a", "/etc/passwd", false},
		{"a", "", false},
		{"a", ".", true},
		{"a/b", "c/../../..", false},
	}
	for _, tt := range tests {
		if got := linkTargetInside(tt.link, tt.target); got != tt.want {
			t.Errorf("linkTargetInside(%q, %q) = %v, want %v", tt.link, tt.target, got, tt.want)
		}
	}
}
