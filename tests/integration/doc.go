// Package integration holds the tests that talk to real servers started by
// tests/harness: versitygw for S3, a distribution registry, the Kaniko executor
// under runc. They build only with -tags integration (`make integration`), so
// `go test ./...` stays a fast unit run.
package integration
