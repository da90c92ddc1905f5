package step

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes shared by every step. A Task author can tell from the code alone
// whether the user's input, the environment or the code itself is at fault.
const (
	CodeOK          = 0
	CodeInternal    = 1 // a bug or an unexpected condition
	CodeConfig      = 2 // the step's configuration (params, env) is invalid
	CodeInput       = 3 // the user's input (source tree, archive, Dockerfile) is rejected
	CodeUnavailable = 4 // a remote service failed or refused us (S3, registry, git)
	CodePolicy      = 5 // the result was produced but breaks policy
	CodeCanceled    = 130
)

// Error is the typed error a step returns to end with a specific exit code.
// Reason is a short CamelCase word for machines (and Tekton's termination
// reason); Message is the one line a human reads: what failed, on which input,
// how to fix it.
type Error struct {
	Code    int
	Reason  string
	Message string
	Err     error // optional cause, kept for errors.Is/As
}

func (e *Error) Error() string {
	if e.Err != nil && !strings.Contains(e.Message, e.Err.Error()) {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error. A %w verb in format keeps the cause for errors.Is.
func Errorf(code int, reason, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Reason: reason, Message: err.Error(), Err: errors.Unwrap(err)}
}

// ConfigError reports invalid step configuration.
func ConfigError(format string, args ...any) *Error {
	return Errorf(CodeConfig, "InvalidConfig", format, args...)
}

// InputError reports user input the step refuses.
func InputError(format string, args ...any) *Error {
	return Errorf(CodeInput, "InvalidInput", format, args...)
}

// UnavailableError reports a remote service that failed or refused the step.
func UnavailableError(format string, args ...any) *Error {
	return Errorf(CodeUnavailable, "Unavailable", format, args...)
}

// PolicyError reports an output that was produced but breaks policy.
func PolicyError(format string, args ...any) *Error {
	return Errorf(CodePolicy, "PolicyViolation", format, args...)
}

// ExitCode maps any error to the code the process should exit with.
func ExitCode(err error) int {
	var se *Error
	switch {
	case err == nil:
		return CodeOK
	case errors.As(err, &se):
		return se.Code
	case errors.Is(err, context.Canceled):
		return CodeCanceled
	default:
		return CodeInternal
	}
}

// Reason maps any error to its machine-readable reason.
func Reason(err error) string {
	var se *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &se):
		return se.Reason
	case errors.Is(err, context.Canceled):
		return "Canceled"
	default:
		return "Internal"
	}
}

// Run calls fn and turns its error into one line on stderr and an exit code.
// Step binaries call it through Main.
func Run(ctx context.Context, name string, stderr io.Writer, fn func(context.Context) error) int {
	err := fn(ctx)
	if err == nil {
		return CodeOK
	}
	fmt.Fprintf(stderr, "%s: %s: %s\n", name, Reason(err), oneLine(err.Error()))
	return ExitCode(err)
}

// Main is Run for a real process: fn's context ends on SIGINT or SIGTERM
// (Kubernetes stops a pod with SIGTERM), and the process exits with fn's code.
// A step's main.go is one line: step.Main("fetch-code", fetch.Main).
func Main(name string, fn func(context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, name, os.Stderr, fn)
	stop()
	os.Exit(code)
}

// oneLine keeps an error on one line so logs and termination messages stay
// parseable even when a library error spans several.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
