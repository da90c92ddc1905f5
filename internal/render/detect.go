package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Facts is what detection learned from a source tree: enough to choose a
// template variant and an entrypoint. File names in it are constants of this
// package; free text from the tree only reaches Entrypoint and Go.Package,
// which are validated before rendering.
type Facts struct {
	Language   Language
	Entrypoint []string // nil when nothing was found; EntrypointHint says what to add
	// EntrypointHint tells the user how to name an entrypoint for this language.
	EntrypointHint string
	Python         PythonFacts
	Node           NodeFacts
	Go             GoFacts
}

// PythonFacts: the dependency manifest to install from ("" for none).
type PythonFacts struct {
	Manifest string // requirements.txt | pyproject.toml | ""
}

// NodeFacts: the package manager (from the lock file) and its files.
type NodeFacts struct {
	Manager      string // npm | yarn | yarn-berry | pnpm | "" (no lock file: no install)
	LockFile     string // package-lock.json | npm-shrinkwrap.json | yarn.lock | pnpm-lock.yaml
	YarnRC       bool   // .yarnrc.yml exists (yarn berry settings)
	YarnReleases bool   // .yarn/releases exists (a checked-in yarn berry)
}

// GoFacts: the module's files and the main package to build.
type GoFacts struct {
	Package   string // ./ relative directory of the main package
	GoSum     bool
	Vendor    bool   // vendor/modules.txt: build from vendor, download nothing
	GoVersion string // the go directive of go.mod ("" if absent)
}

// markers are the top-level files that identify each language.
var markers = map[Language][]string{
	Python: {"requirements.txt", "pyproject.toml"},
	Node:   {"package.json"},
	Go:     {"go.mod"},
}

// Size limits for the files detection reads: they are small by nature, and a
// hostile tree must not make the step read gigabytes.
const (
	maxManifestBytes = 1 << 20
	maxGoScanBytes   = 64 << 10
	maxGoDirs        = 10000
)

// DetectLanguage names the language of a tree from its top-level markers.
// None or several is an input error that says what was found.
func DetectLanguage(fsys fs.FS) (Language, error) {
	var found []Language
	var seen []string
	for _, l := range Languages {
		for _, m := range markers[l] {
			if isFile(fsys, m) {
				seen = append(seen, fmt.Sprintf("%s (%s)", m, l))
				if len(found) == 0 || found[len(found)-1] != l {
					found = append(found, l)
				}
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("no Python, Node or Go project found in SOURCE_DIR: looked for requirements.txt or pyproject.toml (python), package.json (node), go.mod (go) at its top level, which holds %s; set LANGUAGE to python, node or go, or ship a Dockerfile", listTop(fsys))
	default:
		return "", fmt.Errorf("SOURCE_DIR holds several languages: found %s; set LANGUAGE to the one to build (python, node or go)", strings.Join(seen, ", "))
	}
}

// Detect gathers the facts of one language (detected when lang is Auto).
// goPackage, when not empty, names the Go main package instead of a search.
func Detect(fsys fs.FS, lang Language, goPackage string) (Facts, error) {
	if lang == Auto || lang == "" {
		var err error
		if lang, err = DetectLanguage(fsys); err != nil {
			return Facts{}, err
		}
	}
	switch lang {
	case Python:
		return detectPython(fsys)
	case Node:
		return detectNode(fsys)
	case Go:
		return detectGo(fsys, goPackage)
	}
	return Facts{}, fmt.Errorf("LANGUAGE %q is not supported", lang)
}

func detectPython(fsys fs.FS) (Facts, error) {
	f := Facts{Language: Python, EntrypointHint: "add a Procfile with a web: line, a main.py or an app.py"}
	for _, m := range markers[Python] {
		if isFile(fsys, m) {
			f.Python.Manifest = m
			break
		}
	}
	web, err := procfileWeb(fsys)
	if err != nil {
		return f, err
	}
	switch {
	case web != "":
		f.Entrypoint = commandArgs(web)
	case isFile(fsys, "main.py"):
		f.Entrypoint = []string{"python", "main.py"}
	case isFile(fsys, "app.py"):
		f.Entrypoint = []string{"python", "app.py"}
	}
	return f, nil
}

// procfileWeb returns the command of the Procfile's web process ("" when
// there is no Procfile or no web line).
func procfileWeb(fsys fs.FS) (string, error) {
	if !isFile(fsys, "Procfile") {
		return "", nil
	}
	b, err := readSmall(fsys, "Procfile", maxManifestBytes)
	if err != nil {
		return "", err
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		key, cmd, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(key) != "web" {
			continue
		}
		cmd = strings.TrimSpace(cmd)
		if err := checkText(fmt.Sprintf("Procfile line %d", i+1), cmd); err != nil {
			return "", err
		}
		if cmd == "" {
			return "", fmt.Errorf("the web process on line %d of the Procfile has no command", i+1)
		}
		return cmd, nil
	}
	return "", nil
}

// commandArgs runs a command line the way Procfiles and npm scripts do: as is
// when it is plain words, else through /bin/sh -c (for $PORT, && and
// quotes). Either way it is rendered as a JSON exec-form array.
func commandArgs(cmd string) []string {
	if args, ok := execForm(cmd); ok {
		return args
	}
	return []string{"/bin/sh", "-c", cmd}
}

// packageJSON is the part of package.json detection reads.
type packageJSON struct {
	Main         string            `json:"main"`
	Scripts      map[string]string `json:"scripts"`
	Dependencies map[string]string `json:"dependencies"`
	OptionalDeps map[string]string `json:"optionalDependencies"`
}

var nodeLocks = []struct{ file, manager string }{
	{"package-lock.json", "npm"},
	{"npm-shrinkwrap.json", "npm"},
	{"yarn.lock", "yarn"},
	{"pnpm-lock.yaml", "pnpm"},
}

func detectNode(fsys fs.FS) (Facts, error) {
	f := Facts{Language: Node, EntrypointHint: `add "scripts": {"start": ...} or "main" to package.json, or an index.js`}
	if !isFile(fsys, "package.json") {
		return f, fmt.Errorf("LANGUAGE is node but SOURCE_DIR has no package.json at its top level")
	}
	b, err := readSmall(fsys, "package.json", maxManifestBytes)
	if err != nil {
		return f, err
	}
	var pkg packageJSON
	if err := json.Unmarshal(b, &pkg); err != nil {
		return f, fmt.Errorf("package.json is not valid JSON: %v", err)
	}
	var locks []string
	for _, l := range nodeLocks {
		if isFile(fsys, l.file) {
			locks = append(locks, l.file)
			f.Node.Manager, f.Node.LockFile = l.manager, l.file
		}
	}
	switch {
	case len(locks) > 1:
		return f, fmt.Errorf("package.json comes with several lock files (%s): keep the one of the package manager you use and delete the others", strings.Join(locks, ", "))
	case f.Node.Manager == "yarn":
		head, err := readHead(fsys, "yarn.lock", 4096)
		if err != nil {
			return f, err
		}
		if !bytes.Contains(head, []byte("# yarn lockfile v1")) {
			f.Node.Manager = "yarn-berry"
			f.Node.YarnRC = isFile(fsys, ".yarnrc.yml")
			f.Node.YarnReleases = isDir(fsys, ".yarn/releases")
			// The runtime stage copies node_modules: Plug'n'Play installs
			// would leave it empty.
			var rc []byte
			if f.Node.YarnRC {
				if rc, err = readSmall(fsys, ".yarnrc.yml", maxManifestBytes); err != nil {
					return f, err
				}
			}
			if !nodeModulesLinker.Match(rc) {
				return f, fmt.Errorf("yarn.lock is a Yarn 2+ lock file: set nodeLinker: node-modules in .yarnrc.yml (Plug'n'Play installs are not supported)")
			}
		}
	case len(locks) == 0 && len(pkg.Dependencies)+len(pkg.OptionalDeps) > 0 && !isDir(fsys, "node_modules"):
		return f, fmt.Errorf("package.json declares dependencies but there is no lock file: commit package-lock.json (npm install --package-lock-only), yarn.lock or pnpm-lock.yaml so the build installs exactly what you tested")
	}

	start := strings.TrimSpace(pkg.Scripts["start"])
	switch {
	case start != "":
		if err := checkText("package.json scripts.start", start); err != nil {
			return f, err
		}
		// "node server.js" runs directly (node gets the signals); anything
		// else runs the way the user's npm start would.
		if args, ok := execForm(start); ok && args[0] == "node" {
			f.Entrypoint = args
		} else {
			f.Entrypoint = []string{"npm", "start"}
		}
	case pkg.Main != "":
		if err := checkText("package.json main", pkg.Main); err != nil {
			return f, err
		}
		f.Entrypoint = []string{"node", pkg.Main}
	case isFile(fsys, "index.js"):
		f.Entrypoint = []string{"node", "index.js"}
	}
	return f, nil
}

var nodeModulesLinker = regexp.MustCompile(`(?m)^nodeLinker:[ \t]*["']?node-modules["']?[ \t]*$`)

var goDirective = regexp.MustCompile(`(?m)^go[ \t]+([0-9]+(?:\.[0-9]+){0,2})`)

func detectGo(fsys fs.FS, goPackage string) (Facts, error) {
	f := Facts{Language: Go, EntrypointHint: "set GO_PACKAGE to the main package"}
	if !isFile(fsys, "go.mod") {
		return f, fmt.Errorf("LANGUAGE is go but SOURCE_DIR has no go.mod at its top level: run go mod init")
	}
	mod, err := readSmall(fsys, "go.mod", maxManifestBytes)
	if err != nil {
		return f, err
	}
	if m := goDirective.FindSubmatch(mod); m != nil {
		f.Go.GoVersion = string(m[1])
	}
	f.Go.GoSum = isFile(fsys, "go.sum")
	f.Go.Vendor = isFile(fsys, "vendor/modules.txt")

	if goPackage != "" {
		dir := path.Clean(strings.TrimPrefix(goPackage, "./"))
		ok, err := hasMainPackage(fsys, dir)
		if err != nil {
			return f, err
		}
		if !ok {
			return f, fmt.Errorf("GO_PACKAGE %s holds no Go files of package main", goPackage)
		}
		f.Go.Package = goPackage
	} else {
		mains, err := findMainPackages(fsys)
		if err != nil {
			return f, err
		}
		switch {
		case len(mains) == 0:
			return f, fmt.Errorf("the Go module has no main package: add a main.go (package main) or a cmd/NAME/main.go")
		case mains[0] == ".":
			f.Go.Package = "." // the module root wins, as `go build` there would
		case len(mains) == 1:
			f.Go.Package = "./" + mains[0]
		default:
			for i := range mains {
				mains[i] = "./" + mains[i]
			}
			return f, fmt.Errorf("the Go module has several main packages (%s): set GO_PACKAGE to the one to build", strings.Join(mains, ", "))
		}
	}
	if err := checkGoPackage("the main package directory", f.Go.Package); err != nil {
		return f, err
	}
	f.Entrypoint = []string{goBinary}
	return f, nil
}

// goBinary is where the Go template puts the function's binary.
const goBinary = "/app/function"

// findMainPackages lists (sorted, "." first) the directories holding a main
// package, skipping what the go tool skips (vendor, testdata, ., _ folders).
func findMainPackages(fsys fs.FS) ([]string, error) {
	var mains []string
	dirs := 0
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		base := path.Base(p)
		if p != "." && (base == "vendor" || base == "testdata" || base == "node_modules" || strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_")) {
			return fs.SkipDir
		}
		if dirs++; dirs > maxGoDirs {
			return fmt.Errorf("more than %d folders to search for the Go main package: set GO_PACKAGE", maxGoDirs)
		}
		if p != "." && isFile(fsys, p+"/go.mod") {
			return fs.SkipDir // another module
		}
		ok, err := hasMainPackage(fsys, p)
		if err != nil {
			return err
		}
		if ok {
			mains = append(mains, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(mains) // "." sorts before any name
	return mains, nil
}

// hasMainPackage reports whether dir holds a non-test Go file of package main.
func hasMainPackage(fsys fs.FS, dir string) (bool, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("reading %s: %w", dir, err)
	}
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		head, err := readHead(fsys, path.Join(dir, n), maxGoScanBytes)
		if err != nil {
			return false, err
		}
		file, err := parser.ParseFile(token.NewFileSet(), n, head, parser.PackageClauseOnly)
		if err == nil && file.Name.Name == "main" {
			return true, nil
		}
	}
	return false, nil
}

func isFile(fsys fs.FS, name string) bool {
	fi, err := fs.Stat(fsys, name)
	return err == nil && fi.Mode().IsRegular()
}

func isDir(fsys fs.FS, name string) bool {
	fi, err := fs.Stat(fsys, name)
	return err == nil && fi.IsDir()
}

// readSmall reads a whole file of at most max bytes.
func readSmall(fsys fs.FS, name string, max int64) ([]byte, error) {
	b, err := readHead(fsys, name, max+1)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, max)
	}
	return b, nil
}

// readHead reads at most max bytes of a file.
func readHead(fsys fs.FS, name string, max int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return b, nil
}

// listTop names up to 10 top-level entries for an error message.
func listTop(fsys fs.FS) string {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil || len(entries) == 0 {
		return "nothing"
	}
	var names []string
	for i, e := range entries {
		if i == 10 {
			names = append(names, fmt.Sprintf("and %d more", len(entries)-10))
			break
		}
		n := fmt.Sprintf("%q", e.Name())
		if e.IsDir() {
			n = fmt.Sprintf("%q", e.Name()+"/")
		}
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}
