package render

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Every value that reaches a rendered Dockerfile passes one of the checks in
// this file. A Dockerfile is line-oriented: one newline in a value is a new
// instruction, a trailing backslash joins the next line, `$` is expanded in
// FROM/COPY/ENV/WORKDIR, and quotes change how exec form is parsed. So values
// are held to small alphabets, or are JSON-encoded where free text is allowed.

// checkText rejects what could break a Dockerfile, a .dockerignore or a
// one-line log: invalid UTF-8, control characters (newline, carriage return,
// NUL, ESC, C1 controls such as U+0085) and the Unicode line separators.
func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	for i, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%s holds the control character %U at byte %d; newlines and control characters are not allowed", what, r, i)
		}
	}
	return nil
}

// buildArgName is Docker's and the shell's variable name, upper case only so
// a key cannot be confused with an instruction flag or a lower-case keyword.
var buildArgName = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

const maxBuildArgs = 32

// parseBuildArgs reads BUILD_ARGS: names separated by commas or spaces. It
// keeps their order, drops repeats, and refuses anything but a valid name
// (no `=value`: values are given to the build step, never to the Dockerfile).
func parseBuildArgs(s string) ([]string, error) {
	if err := checkText("BUILD_ARGS", s); err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if !buildArgName.MatchString(f) {
			return nil, fmt.Errorf("BUILD_ARGS: %q is not a build argument name; use upper-case names matching [A-Z_][A-Z0-9_]* and pass values to the build step", f)
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	if len(out) > maxBuildArgs {
		return nil, fmt.Errorf("BUILD_ARGS names %d arguments, more than %d", len(out), maxBuildArgs)
	}
	return out, nil
}

// Limits on an entrypoint. The rendered ENTRYPOINT line must stay well under
// the 64 KiB line limit of the Dockerfile parsers (BuildKit's, Kaniko's).
const maxEntrypointArgs, maxArgLen, maxEntrypointLine = 64, 4096, 16 << 10

// parseEntrypoint reads an ENTRYPOINT override: a JSON array of strings, the
// exec form itself, e.g. ["python", "-m", "app"]. It is rendered back through
// JSON, so quotes, `$(...)` and backslashes stay literal arguments.
func parseEntrypoint(s string) ([]string, error) {
	// encoding/json would turn invalid UTF-8 into U+FFFD without a word.
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("ENTRYPOINT is not valid UTF-8")
	}
	var args []string
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&args); err != nil {
		return nil, fmt.Errorf(`ENTRYPOINT must be a JSON array of strings such as ["python", "main.py"]: %v`, err)
	}
	if dec.More() {
		return nil, fmt.Errorf(`ENTRYPOINT must be one JSON array of strings such as ["python", "main.py"], with nothing after it`)
	}
	if err := checkEntrypoint("ENTRYPOINT", args); err != nil {
		return nil, err
	}
	return args, nil
}

func checkEntrypoint(what string, args []string) error {
	if len(args) == 0 || args[0] == "" {
		return fmt.Errorf("%s is empty: name the program to run first", what)
	}
	if len(args) > maxEntrypointArgs {
		return fmt.Errorf("%s has %d arguments, more than %d", what, len(args), maxEntrypointArgs)
	}
	for i, a := range args {
		if len(a) > maxArgLen {
			return fmt.Errorf("%s argument %d is longer than %d bytes", what, i, maxArgLen)
		}
		if err := checkText(fmt.Sprintf("%s argument %d", what, i), a); err != nil {
			return err
		}
	}
	if line, err := execJSON(args); err != nil || len(line) > maxEntrypointLine {
		return fmt.Errorf("%s takes more than %d bytes as a Dockerfile line", what, maxEntrypointLine)
	}
	return nil
}

// version is a dotted number as used in base image tags: 3.13, 24, 1.26.8.
var version = regexp.MustCompile(`^[0-9]{1,4}(\.[0-9]{1,4}){0,2}$`)

func checkVersion(what, s string) error {
	if !version.MatchString(s) {
		return fmt.Errorf("%s %q is not a version such as 3.13, 24 or 1.26.8", what, s)
	}
	return nil
}

// goPackage is a relative package directory: ./ followed by plain path
// elements. The go tool ignores directories starting with . or _, so they
// cannot hold the main package anyway.
var goPackage = regexp.MustCompile(`^\.(/[A-Za-z0-9][A-Za-z0-9._-]*)*$`)

func checkGoPackage(what, s string) error {
	if !goPackage.MatchString(s) || strings.Contains(s, "/../") || strings.HasSuffix(s, "/..") {
		return fmt.Errorf("%s %q is not a package directory such as . or ./cmd/server (letters, digits, . _ - only)", what, s)
	}
	return nil
}

// normalizeGoPackage accepts "cmd/server", "./cmd/server/" and "." alike.
func normalizeGoPackage(s string) string {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/")
	if s == "" || s == "." {
		return "."
	}
	if !strings.HasPrefix(s, "./") {
		s = "./" + s
	}
	return s
}

// shellWord is a command word that means the same to a shell and to exec
// form: no quoting, expansion, globbing, redirection or separators.
var shellWord = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+,-]+$`)

// execForm turns a command line (a Procfile entry, an npm start script) into
// exec-form arguments when it is plain words; ok is false when it needs a
// shell ($PORT, quotes, &&, ...).
func execForm(cmd string) (args []string, ok bool) {
	args = strings.Fields(cmd)
	if len(args) == 0 {
		return nil, false
	}
	for _, a := range args {
		if !shellWord.MatchString(a) {
			return nil, false
		}
	}
	return args, true
}
