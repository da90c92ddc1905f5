package render

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Default language versions. Each is a tag of the official images; the Task's
// param defaults repeat them (a test keeps the two equal).
const (
	DefaultPythonVersion = "3.13" // security support until 2029-10; wheels for nearly every package
	DefaultNodeVersion   = "24"   // LTS, maintained until 2028-04
	DefaultGoVersion     = "1.26" // the toolchain this project builds with
)

// GoRuntimeImage is the final stage of Go functions: a static binary needs no
// libc or shell, and the :nonroot tag already runs as 65532.
const GoRuntimeImage = "gcr.io/distroless/static-debian12:nonroot"

// Default base images by language and version. Python builds its virtual
// environment in the same image it runs in, so the venv's interpreter path
// (/usr/local/bin/python3.X) exists in the final stage.
func defaultPythonImage(version string) string {
	return "docker.io/library/python:" + version + "-slim"
}

func defaultNodeImage(version string) string {
	return "docker.io/library/node:" + version + "-slim"
}

func defaultGoBuilderImage(version string) string {
	return "docker.io/library/golang:" + version
}

// The grammar of an image reference (docker/distribution's reference
// package, which Docker and Kaniko follow). Every component starts with a
// letter or digit, so a reference can never look like a flag ("--",
// "--platform=...") to a Dockerfile parser, and no character that a
// Dockerfile or a shell gives meaning to ($ \ " ' space #) can appear.
const (
	alnum           = `[a-z0-9]+`
	separator       = `(?:[._]|__|[-]+)`
	pathComponent   = alnum + `(?:` + separator + alnum + `)*`
	domainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	domain          = `(?:` + domainComponent + `(?:\.` + domainComponent + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?`
	tag             = `[\w][\w.-]{0,127}`
	digest          = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
)

var (
	imageRef     = regexp.MustCompile(`^(?:` + domain + `/)?` + pathComponent + `(?:/` + pathComponent + `)*(?::` + tag + `)?(?:@` + digest + `)?$`)
	registryHost = regexp.MustCompile(`^` + domain + `$`)
)

const maxImageLen = 512

// checkImage validates an image reference as it will be written after FROM
// and returns it unchanged: what the user typed is what the Dockerfile says.
func checkImage(what, ref string) (string, error) {
	if err := checkText(what, ref); err != nil {
		return "", err
	}
	if len(ref) > maxImageLen || !imageRef.MatchString(ref) {
		return "", fmt.Errorf("%s %q is not an image reference (registry/repository:tag or @sha256:digest, without spaces or quotes)", what, ref)
	}
	if _, err := name.ParseReference(ref); err != nil {
		return "", fmt.Errorf("%s %q is not an image reference: %v", what, ref, err)
	}
	return ref, nil
}

// checkRegistry validates BASE_REGISTRY: a registry host only, such as
// 127.0.0.1:5000 or 123456789012.dkr.ecr.eu-west-1.amazonaws.com.
func checkRegistry(host string) error {
	if err := checkText("BASE_REGISTRY", host); err != nil {
		return err
	}
	if len(host) > 255 || !registryHost.MatchString(host) {
		return fmt.Errorf("BASE_REGISTRY %q must be a registry host such as 127.0.0.1:5000 or registry.example.com (no scheme, path or credentials)", host)
	}
	if _, err := name.NewRegistry(host, name.StrictValidation); err != nil {
		return fmt.Errorf("BASE_REGISTRY %q is not a registry host: %v", host, err)
	}
	return nil
}

// RewriteRegistry moves an image reference to another registry host and keeps
// its repository path and its tag or digest:
//
//	docker.io/library/python:3.13-slim      -> HOST/library/python:3.13-slim
//	gcr.io/distroless/static-debian12:nonroot -> HOST/distroless/static-debian12:nonroot
//
// It is how BASE_REGISTRY points the default base images at a mirror (an ECR
// pull-through cache, or a registry on 127.0.0.1 in tests) that holds them
// under the same paths. An empty host returns ref unchanged.
func RewriteRegistry(ref, host string) (string, error) {
	if host == "" {
		return ref, nil
	}
	if err := checkRegistry(host); err != nil {
		return "", err
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("rewriting %q: %v", ref, err)
	}
	// RepositoryStr is the path without the registry; for Docker Hub it
	// includes the implicit "library/" namespace.
	out := host + "/" + r.Context().RepositoryStr()
	switch r := r.(type) {
	case name.Tag:
		// A digest reference parsed from "repo:tag@sha256:..." keeps only
		// the digest; a tag reference keeps its tag.
		out += ":" + r.TagStr()
	case name.Digest:
		out += "@" + r.DigestStr()
	}
	return out, nil
}

// hasDigest reports whether an image reference already pins a digest.
func hasDigest(ref string) bool { return strings.Contains(ref, "@") }
