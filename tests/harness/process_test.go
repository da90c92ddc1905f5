package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestProcessStopKillsTheWholeGroup(t *testing.T) {
	// A shell that starts a grandchild: stopping must reach both.
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	p := Start(t, "sleeper", []string{"/bin/sh", "-c", "sleep 300 & echo $! > " + pidFile + "; wait"})
	p.WaitReady(t, 5*time.Second, func(context.Context) error {
		if _, err := os.Stat(pidFile); err != nil {
			return err
		}
		return nil
	})
	b, _ := os.ReadFile(pidFile)
	var child int
	for _, c := range string(b) {
		if c >= '0' && c <= '9' {
			child = child*10 + int(c-'0')
		}
	}
	p.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(child, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d still alive after Stop", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := syscall.Kill(p.PID(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still exists after Stop: %v", p.PID(), err)
	}
}

func TestLookToolPrefersTheCache(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LB_TOOLS_DIR", dir)
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(dir, "bin", "sh")
	if err := os.WriteFile(fake, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := LookTool("sh"); err != nil || got != fake {
		t.Errorf("LookTool(sh) = %q, %v; want the cached %q", got, err, fake)
	}
	if _, err := LookTool("no-such-tool-anywhere"); err == nil {
		t.Error("LookTool found a tool that does not exist")
	}
}
