package fetch

import (
	"context"
	"net"
	"net/url"
	"strings"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// Source is one place code comes from.
type Source interface {
	// Fetch writes the source's tree into t. scratch is an empty folder on the
	// same volume for temporary files (a downloaded archive, git objects).
	Fetch(ctx context.Context, t *Tree, scratch string) error
	// URI names what was fetched, pinned where the source allows (a git
	// commit, an S3 object version); valid after Fetch.
	URI() string
}

// Kinds of source.
const (
	KindS3Prefix  = "s3-prefix"
	KindS3Archive = "s3-archive"
	KindGit       = "git"
)

// Archive formats, chosen by the key's suffix.
const (
	ArchiveTar   = "tar"
	ArchiveTarGz = "tar.gz"
	ArchiveZip   = "zip"
)

// SourceRef is a parsed SOURCE.
type SourceRef struct {
	Kind      string
	Bucket    string // S3
	Key       string // S3: the prefix (empty or ending in "/") or the archive key
	VersionID string // S3 archive
	Archive   string // S3 archive: ArchiveTar, ArchiveTarGz or ArchiveZip
	GitURL    string // git: the URL as given
}

// ParseSource reads SOURCE. gitInsecure allows plain http git URLs to hosts
// other than localhost.
func ParseSource(source string, gitInsecure bool) (SourceRef, error) {
	u, err := url.Parse(source)
	if err != nil || u.Scheme == "" {
		return SourceRef{}, step.Errorf(step.CodeConfig, "UnknownSource",
			"SOURCE %q is not a URL; use s3://bucket/prefix/, s3://bucket/code.tar.gz or https://host/repo.git", redactURL(source))
	}
	switch u.Scheme {
	case "s3":
		return parseS3(u, source)
	case "https", "http":
		return parseGit(u, gitInsecure)
	}
	return SourceRef{}, step.Errorf(step.CodeConfig, "UnknownSource",
		"SOURCE %q: unknown scheme %q; use s3://bucket/prefix/, s3://bucket/code.tar.gz (.tgz, .tar, .zip) or https://host/repo.git", redactURL(source), u.Scheme)
}

func parseS3(u *url.URL, source string) (SourceRef, error) {
	bad := func(format string, args ...any) error {
		return step.Errorf(step.CodeConfig, "InvalidSource", "SOURCE %q: "+format, append([]any{source}, args...)...)
	}
	if u.Host == "" {
		return SourceRef{}, bad("no bucket; use s3://bucket/prefix/")
	}
	if u.User != nil || u.Fragment != "" {
		return SourceRef{}, bad("unexpected user or fragment in an s3:// URL")
	}
	ref := SourceRef{Bucket: u.Host, Key: strings.TrimPrefix(u.Path, "/")}
	q := u.Query()
	for k := range q {
		if k != "versionId" {
			return SourceRef{}, bad("unknown query parameter %q (only versionId is understood)", k)
		}
	}
	ref.VersionID = q.Get("versionId")
	if q.Has("versionId") && ref.VersionID == "" {
		return SourceRef{}, bad("versionId is empty")
	}
	lower := strings.ToLower(ref.Key)
	switch {
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		ref.Archive = ArchiveTarGz
	case strings.HasSuffix(lower, ".tar"):
		ref.Archive = ArchiveTar
	case strings.HasSuffix(lower, ".zip"):
		ref.Archive = ArchiveZip
	}
	if ref.Archive != "" {
		ref.Kind = KindS3Archive
		return ref, nil
	}
	if ref.VersionID != "" {
		return SourceRef{}, bad("versionId applies to an archive (.tar.gz, .tgz, .tar, .zip), not to a prefix")
	}
	ref.Kind = KindS3Prefix
	// A prefix names a folder, like `aws s3 sync s3://b/p`: "p" means "p/",
	// never "p-old/".
	if ref.Key != "" && !strings.HasSuffix(ref.Key, "/") {
		ref.Key += "/"
	}
	return ref, nil
}

func parseGit(u *url.URL, insecure bool) (SourceRef, error) {
	if u.Host == "" {
		return SourceRef{}, step.Errorf(step.CodeConfig, "InvalidSource", "SOURCE %q: no host in the git URL", redactURL(u.String()))
	}
	if u.Scheme == "http" && !insecure && !isLoopback(u.Hostname()) {
		return SourceRef{}, step.Errorf(step.CodeConfig, "InsecureSource",
			"SOURCE %q: plain http would let anyone on the path change the code; use https (or set GIT_INSECURE=true for a trusted in-cluster server)", redactURL(u.String()))
	}
	return SourceRef{Kind: KindGit, GitURL: u.String()}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redactURL hides a password or token in a URL's user info: SOURCE may come
// from a user who pasted https://user:token@host/repo.git.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = url.User("REDACTED")
	return u.String()
}
