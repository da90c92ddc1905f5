package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	gitobject "github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/knative-lambda/lambda-builder/internal/step"
	"github.com/knative-lambda/lambda-builder/internal/treedigest"
)

// Exit reasons of git failures.
const (
	ReasonNoSuchRepository = "NoSuchRepository"
	ReasonNoSuchRevision   = "NoSuchRevision"
)

// gitAttempts bounds how often a git fetch that failed on the network is
// started over (from an empty object store).
const gitAttempts = 3

// fetchedRef is where the wanted ref lands in the local store.
const fetchedRef = plumbing.ReferenceName("refs/fetch/target")

var fullHash = regexp.MustCompile(`^[0-9a-f]{40}$`)

type gitSource struct {
	url      string // as given: it may hold credentials and is never printed
	shown    string // url with any password redacted
	revision string
	insecure bool
	maxBytes int64

	commit     string
	shallow    bool
	submodules int
}

func newGitSource(cfg Config, ref SourceRef) *gitSource {
	return &gitSource{
		url: ref.GitURL, shown: redactURL(ref.GitURL), revision: strings.TrimSpace(cfg.Revision),
		insecure: cfg.GitInsecure, maxBytes: cfg.MaxBytes,
	}
}

// URI is the git URL pinned to the commit, as SLSA names git materials.
func (g *gitSource) URI() string { return "git+" + g.shown + "@" + g.commit }

func (g *gitSource) Detail() string {
	d := "commit " + g.commit
	if g.shallow {
		d += " (shallow)"
	} else {
		d += " (full history: the server would not send the commit alone)"
	}
	if g.submodules > 0 {
		d += fmt.Sprintf("; %d submodules not fetched", g.submodules)
	}
	return d
}

func (g *gitSource) Fetch(ctx context.Context, t *Tree, scratch string) error {
	transport := &gitTransport{insecure: g.insecure, max: g.maxBytes, base: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: stallTimeout,
		ForceAttemptHTTP2:     true,
	}}
	// go-git picks the transport per scheme from a global table: a step
	// binary fetches once, so installing ours here is safe.
	tr := githttp.NewClient(&http.Client{Transport: transport})
	client.InstallProtocol("https", tr)
	client.InstallProtocol("http", tr)

	var repo *git.Repository
	var err error
	for attempt := 1; ; attempt++ {
		transport.n.Store(0)
		repo, err = g.fetchOnce(ctx, filepath.Join(scratch, fmt.Sprintf("git-%d", attempt)))
		if err == nil || !transientGit(err) || attempt >= gitAttempts || ctx.Err() != nil {
			break
		}
		if err := sleep(ctx, retryBackoff(attempt)); err != nil {
			return err
		}
	}
	if err != nil {
		return g.classify(err)
	}
	return g.writeTree(ctx, repo, t)
}

// fetchOnce lists the remote, fetches the wanted revision (shallow when the
// server allows it) into a bare store under dir and resolves the commit.
func (g *gitSource) fetchOnce(ctx context.Context, dir string) (*git.Repository, error) {
	store := filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRU(16*cache.MiByte))
	repo, err := git.Init(store, nil)
	if err != nil {
		return nil, err
	}
	remote, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{g.url}})
	if err != nil {
		return nil, err
	}
	refs, err := remote.ListContext(ctx, &git.ListOptions{})
	if err != nil {
		return nil, err
	}
	plan, err := planGitFetch(refs, g.revision)
	if err != nil {
		return nil, err
	}
	fetch := func(specs []config.RefSpec, depth int) error {
		err := remote.FetchContext(ctx, &git.FetchOptions{RefSpecs: specs, Depth: depth, Tags: git.NoTags})
		if errors.Is(err, git.NoErrAlreadyUpToDate) {
			return nil
		}
		return err
	}
	if !plan.full {
		err = fetch([]config.RefSpec{plan.spec}, 1)
		g.shallow = err == nil
		if err != nil && plan.want.IsZero() {
			return nil, err
		}
	}
	if !g.shallow {
		// A commit no ref points at, a short hash: the server would not
		// send it alone (no allow-reachable-sha1-in-want), so take all.
		err = fetch([]config.RefSpec{"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"}, 0)
		if err != nil {
			return nil, err
		}
	}
	commit, err := g.resolve(repo, plan)
	if err != nil {
		return nil, err
	}
	g.commit = commit.Hash.String()
	return repo, nil
}

// gitPlan says what to fetch for a revision.
type gitPlan struct {
	spec config.RefSpec // a single ref (or a hash) into fetchedRef
	want plumbing.Hash  // the commit asked for by hash
	full bool           // no single ref matches: fetch everything, resolve after
}

// planGitFetch matches the revision against the advertised refs, the way
// git rev-parse would: HEAD when empty, a full ref name, a tag, a branch, a
// commit hash.
func planGitFetch(refs []*plumbing.Reference, rev string) (gitPlan, error) {
	byName := map[plumbing.ReferenceName]*plumbing.Reference{}
	for _, r := range refs {
		byName[r.Name()] = r
	}
	into := func(name plumbing.ReferenceName) config.RefSpec {
		return config.RefSpec("+" + name.String() + ":" + fetchedRef.String())
	}
	switch {
	case rev == "" || rev == "HEAD":
		head, ok := byName[plumbing.HEAD]
		if !ok {
			return gitPlan{}, step.Errorf(step.CodeInput, ReasonNoSuchRevision, "the repository has no HEAD (is it empty?); set SOURCE_REVISION to a branch, tag or commit")
		}
		if head.Type() == plumbing.SymbolicReference {
			return gitPlan{spec: into(head.Target())}, nil
		}
		return gitPlan{spec: into(plumbing.HEAD)}, nil
	case fullHash.MatchString(rev):
		want := plumbing.NewHash(rev)
		for _, r := range refs {
			if r.Type() == plumbing.HashReference && r.Hash() == want && r.Name() != plumbing.HEAD && !strings.HasSuffix(r.Name().String(), "^{}") {
				return gitPlan{spec: into(r.Name()), want: want}, nil
			}
		}
		return gitPlan{spec: config.RefSpec("+" + rev + ":" + fetchedRef.String()), want: want}, nil
	}
	for _, name := range []string{rev, "refs/" + rev, "refs/tags/" + rev, "refs/heads/" + rev} {
		if _, ok := byName[plumbing.ReferenceName(name)]; ok && strings.HasPrefix(name, "refs/") {
			return gitPlan{spec: into(plumbing.ReferenceName(name))}, nil
		}
	}
	return gitPlan{full: true}, nil
}

func (g *gitSource) resolve(repo *git.Repository, plan gitPlan) (*gitobject.Commit, error) {
	var h plumbing.Hash
	switch {
	case !plan.want.IsZero():
		h = plan.want
	case g.shallow:
		ref, err := repo.Reference(fetchedRef, true)
		if err != nil {
			return nil, err
		}
		h = ref.Hash()
	default:
		p, err := repo.ResolveRevision(plumbing.Revision(g.revision))
		if err != nil {
			return nil, g.noRevision()
		}
		h = *p
	}
	obj, err := repo.Object(plumbing.AnyObject, h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, g.noRevision()
	}
	if err != nil {
		return nil, err
	}
	switch o := obj.(type) {
	case *gitobject.Commit:
		return o, nil
	case *gitobject.Tag: // an annotated tag: the commit it points to
		return o.Commit()
	}
	return nil, step.Errorf(step.CodeInput, ReasonNoSuchRevision, "SOURCE_REVISION %q names a git %s, not a commit", g.revision, obj.Type())
}

func (g *gitSource) noRevision() error {
	return step.Errorf(step.CodeInput, ReasonNoSuchRevision, "%s has no revision %q; set SOURCE_REVISION to a branch, a tag or a full commit hash", g.shown, g.revision)
}

// writeTree writes the commit's tree through the Tree, with the same path,
// link and limit rules as every other source.
func (g *gitSource) writeTree(ctx context.Context, repo *git.Repository, t *Tree) error {
	commit, err := repo.CommitObject(plumbing.NewHash(g.commit))
	if err != nil {
		return err
	}
	tree, err := commit.Tree()
	if err != nil {
		return err
	}
	walker := gitobject.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	buf := make([]byte, copyBufferSize)
	for {
		name, entry, err := walker.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the tree of %s: %w", g.commit, err)
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		rel, err := cleanPath("git path", name)
		if err != nil {
			return err
		}
		switch entry.Mode {
		case filemode.Dir:
			err = t.Mkdir(rel)
		case filemode.Regular, filemode.Deprecated:
			err = g.writeBlob(repo, entry.Hash, rel, treedigest.File, t, buf)
		case filemode.Executable:
			err = g.writeBlob(repo, entry.Hash, rel, treedigest.Executable, t, buf)
		case filemode.Symlink:
			err = g.writeSymlink(repo, entry.Hash, rel, t)
		case filemode.Submodule:
			g.submodules++
		default:
			err = step.Errorf(step.CodeInput, ReasonBadArchive, "git path %q has mode %s, which a source tree has no use for", name, entry.Mode)
		}
		if err != nil {
			return err
		}
	}
}

func (g *gitSource) writeBlob(repo *git.Repository, h plumbing.Hash, rel string, mode treedigest.Mode, t *Tree, buf []byte) error {
	r, err := openBlob(repo, h, rel)
	if err != nil {
		return err
	}
	defer r.Close()
	return writeEntry(t, rel, mode, r, buf, g.shown)
}

func (g *gitSource) writeSymlink(repo *git.Repository, h plumbing.Hash, rel string, t *Tree) error {
	r, err := openBlob(repo, h, rel)
	if err != nil {
		return err
	}
	defer r.Close()
	target, err := readSymlinkTarget(r, rel)
	if err != nil {
		return err
	}
	return t.Symlink(rel, target)
}

func openBlob(repo *git.Repository, h plumbing.Hash, rel string) (io.ReadCloser, error) {
	blob, err := repo.BlobObject(h)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", rel, err)
	}
	r, err := blob.Reader()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", rel, err)
	}
	return r, nil
}

// transientGit: failures another attempt may cure (the network, a 5xx).
func transientGit(err error) bool {
	var se *step.Error
	switch {
	case errors.As(err, &se),
		errors.Is(err, transport.ErrRepositoryNotFound),
		errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrEmptyRemoteRepository),
		errors.Is(err, context.Canceled):
		return false
	}
	return true
}

// classify turns a go-git failure into one line, without the URL's secrets.
func (g *gitSource) classify(err error) error {
	var se *step.Error
	switch {
	case errors.As(err, &se):
		return err
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return step.Errorf(step.CodeInput, ReasonNoSuchRepository, "git repository %s not found; check SOURCE", g.shown)
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return step.Errorf(step.CodeInput, ReasonEmptySource, "git repository %s is empty", g.shown)
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return step.Errorf(step.CodeUnavailable, ReasonAccessDenied, "git repository %s asks for credentials (or does not exist); fetch-code reads public repositories", g.shown)
	}
	msg := err.Error()
	if g.url != g.shown {
		msg = strings.ReplaceAll(msg, g.url, g.shown)
	}
	return step.UnavailableError("fetching %s: %s", g.shown, msg)
}

// gitTransport refuses plain http to hosts that are not localhost (a
// redirect included) unless GIT_INSECURE is set, and stops a download that
// grows past FETCH_MAX_BYTES.
type gitTransport struct {
	base     http.RoundTripper
	insecure bool
	max      int64
	n        atomic.Int64
}

func (t *gitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" && !t.insecure && !isLoopback(r.URL.Hostname()) {
		return nil, step.Errorf(step.CodeConfig, "InsecureSource", "refusing plain http to %s; use https (or set GIT_INSECURE=true for a trusted in-cluster server)", r.URL.Host)
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, t: t}
	return resp, nil
}

type limitedBody struct {
	io.ReadCloser
	t *gitTransport
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.t.n.Add(int64(n)) > b.t.max {
		return n, step.Errorf(step.CodeInput, ReasonTooLarge, "the git download is larger than FETCH_MAX_BYTES=%d bytes; raise FETCH_MAX_BYTES", b.t.max)
	}
	return n, err
}
