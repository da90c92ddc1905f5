// Package harness starts the real services integration tests talk to (an S3
// server, an OCI registry) on 127.0.0.1 with free ports, waits until they
// answer, shows their logs when a test fails, and stops them by PID whatever
// happens to the test.
//
// Binaries come from `make tools` (the tool cache, see ToolsDir) or, for
// Debian packages, from PATH. A missing tool fails the test with the command
// that installs it: integration tests never skip.
package harness
