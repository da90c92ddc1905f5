//go:build integration

package kaniko

import (
	"os"
	"os/signal"
	"syscall"
	"testing"

	kanikotest "github.com/knative-lambda/lambda-builder/tests/kaniko"
)

// TestMain removes the runc containers and overlay mounts of this process
// when it is interrupted: a test's own cleanup does not run on SIGINT.
func TestMain(m *testing.M) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		kanikotest.CleanupAll()
		os.RemoveAll(kanikotest.ProcessDir())
		os.Stderr.WriteString("kaniko tests: interrupted by " + s.String() + ", containers and mounts removed\n")
		os.Exit(1)
	}()
	os.Exit(m.Run())
}
