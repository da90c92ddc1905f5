package kanikotest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestResolveUser(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\napp:x:1001:1002::/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nstaff:x:50:\n"), 0o644)
	tests := []struct {
		user     string
		uid, gid int64
		fails    bool
	}{
		{"", 0, 0, false},
		{"65532", 65532, 65532, false},
		{"65532:65532", 65532, 65532, false},
		{"app", 1001, 1002, false},
		{"app:staff", 1001, 50, false},
		{"nobody", 0, 0, true},
		{"app:nogroup", 0, 0, true},
	}
	for _, tt := range tests {
		uid, gid, err := resolveUser(root, tt.user)
		if (err != nil) != tt.fails || (!tt.fails && (uid != tt.uid || gid != tt.gid)) {
			t.Errorf("resolveUser(%q) = %d, %d, %v; want %d, %d, fails %v", tt.user, uid, gid, err, tt.uid, tt.gid, tt.fails)
		}
	}
}
