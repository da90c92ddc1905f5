package verify

import (
	"archive/tar"
	"bufio"
	"bytes"
	"path"
	"regexp"
	"strings"
)

// secretRule is a well-known file that carries credentials. A rule with
// content set only fires when the file's first maxSecretRead bytes match it
// (an .npmrc without a token is harmless); others fire on the path alone.
type secretRule struct {
	what    string
	matches func(base, dir string) bool
	content func(b []byte) bool
}

// maxSecretRead bounds what is read of a candidate file: the tokens these
// rules look for sit in small config files.
const maxSecretRead = 64 << 10

var sshKeyNames = map[string]bool{"id_rsa": true, "id_dsa": true, "id_ecdsa": true, "id_ed25519": true, "id_ecdsa_sk": true, "id_ed25519_sk": true}

// dotenvTemplates are .env variants meant to be committed, without values.
var dotenvTemplates = map[string]bool{".env.example": true, ".env.sample": true, ".env.template": true, ".env.dist": true, ".env.defaults": true}

var secretRules = []secretRule{
	{what: "AWS credentials", matches: func(base, dir string) bool { return base == "credentials" && path.Base(dir) == ".aws" }},
	{what: "Docker registry credentials", matches: func(base, dir string) bool { return base == "config.json" && path.Base(dir) == ".docker" }},
	{what: "SSH private key", matches: func(base, _ string) bool { return sshKeyNames[base] }},
	{what: "npm auth token", matches: baseIs(".npmrc"), content: npmrcHasToken},
	{what: "dotenv file", matches: func(base, _ string) bool {
		return base == ".env" || strings.HasPrefix(base, ".env.") && !dotenvTemplates[base]
	}},
	{what: "git credentials", matches: baseIs(".git-credentials")},
	{what: "PyPI password", matches: baseIs(".pypirc"), content: pypircPassword.Match},
}

func baseIs(name string) func(base, dir string) bool {
	return func(base, _ string) bool { return base == name }
}

// npmrcAuth finds `_authToken=` and `_auth=` settings, scoped
// (//registry/:_authToken=...) or not.
var npmrcAuth = regexp.MustCompile(`^\s*(?:\S*:)?_auth(?:Token)?\s*=\s*(.*?)\s*$`)

// envReference is a value npm fills from the environment at run time
// (`${NPM_TOKEN}`): the file names a secret without holding one.
var envReference = regexp.MustCompile(`^["']?\$\{[A-Za-z_][A-Za-z0-9_]*\}["']?$`)

func npmrcHasToken(b []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxSecretRead)
	for sc.Scan() {
		m := npmrcAuth.FindSubmatch(sc.Bytes())
		if m != nil && len(m[1]) > 0 && !envReference.Match(m[1]) {
			return true
		}
	}
	return false
}

var pypircPassword = regexp.MustCompile(`(?m)^[ \t]*password[ \t]*[:=][ \t]*\S`)

// Finding is a secret file in a layer.
type Finding struct {
	Layer string // the layer digest
	Path  string // as stored in the tar, cleaned
	What  string
}

// cleanTarPath turns a tar entry name into the path it lands at, relative
// to the root: "./root/.aws/credentials" -> "root/.aws/credentials".
func cleanTarPath(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// candidate returns the rule a tar entry may break, before its content is
// read. Whiteouts are markers, not files: a secret deleted in a later layer
// still ships in the lower one, which is scanned on its own.
func candidate(h *tar.Header) (*secretRule, string) {
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeLink:
	default:
		return nil, ""
	}
	p := cleanTarPath(h.Name)
	dir, base := path.Split(p)
	if strings.HasPrefix(base, ".wh.") {
		return nil, ""
	}
	dir = strings.TrimSuffix(dir, "/")
	for i := range secretRules {
		if secretRules[i].matches(base, dir) {
			return &secretRules[i], p
		}
	}
	return nil, ""
}
