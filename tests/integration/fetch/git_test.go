//go:build integration

package fetch

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knative-lambda/lambda-builder/tests/harness"
)

// gitServer is git's own smart HTTP server (git http-backend) behind Go's
// CGI handler on 127.0.0.1, serving bare repositories from a folder.
type gitServer struct {
	URL     string // http://127.0.0.1:PORT
	commits map[string]string
	git     string
	work    string
	env     []string
}

// startGitServer builds repositories with the git CLI:
//
//	repo.git  main: c1 -> c2 -> c4; tags v1 (annotated) and light on c1;
//	          branch feature: c1 -> c3 (no ref points at c2)
//	sha.git   the same, with uploadpack.allowReachableSHA1InWant (GitHub-like)
//	evil.git  one commit holding a symlink that points out of the tree
func startGitServer(t *testing.T) *gitServer {
	t.Helper()
	g := &gitServer{git: harness.Tool(t, "git"), work: t.TempDir(), commits: map[string]string{}}
	home := t.TempDir()
	g.env = []string{"HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid", "GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z"}
	run := func(dir string, args ...string) string { return tool(t, dir, g.env, g.git, args...) }
	src := filepath.Join(g.work, "src")
	run(g.work, "init", "-q", "-b", "main", src)
	write := func(files map[string]string) {
		for p, c := range files {
			full := filepath.Join(src, p)
			os.MkdirAll(filepath.Dir(full), 0o755)
			os.Remove(full)
			switch {
			case strings.HasPrefix(c, "-> "):
				os.Symlink(strings.TrimPrefix(c, "-> "), full)
			case strings.HasPrefix(c, "#!"):
				os.WriteFile(full, []byte(c), 0o755)
			default:
				os.WriteFile(full, []byte(c), 0o644)
			}
		}
	}
	commit := func(name string) {
		run(src, "add", "-A")
		run(src, "commit", "-q", "-m", name)
		g.commits[name] = run(src, "rev-parse", "HEAD")
	}
	write(map[string]string{
		"README.md":             "# fn\n",
		"src/app.py":            "print('c1')\n",
		"bin/run.sh":            "#!/bin/sh\nexec python3 src/app.py\n",
		"current":               "-> src/app.py",
		"deep/a/b/c/d/leaf.txt": "leaf\n",
	})
	commit("c1")
	run(src, "tag", "-a", "v1", "-m", "release v1")
	run(src, "tag", "light")
	write(map[string]string{"src/app.py": "print('c2')\n"})
	commit("c2")
	write(map[string]string{"later.txt": "later\n"})
	commit("c4")
	run(src, "checkout", "-q", "-b", "feature", g.commits["c1"])
	write(map[string]string{"feature.txt": "feature\n"})
	commit("c3")
	run(src, "checkout", "-q", "main")

	root := filepath.Join(g.work, "served")
	run(g.work, "clone", "-q", "--bare", src, filepath.Join(root, "repo.git"))
	run(g.work, "clone", "-q", "--bare", src, filepath.Join(root, "sha.git"))
	run(filepath.Join(root, "sha.git"), "config", "uploadpack.allowReachableSHA1InWant", "true")

	evil := filepath.Join(g.work, "evil")
	run(g.work, "init", "-q", "-b", "main", evil)
	os.Symlink("../../../../../etc/passwd", filepath.Join(evil, "passwd"))
	os.WriteFile(filepath.Join(evil, "ok.txt"), []byte("ok\n"), 0o644)
	run(evil, "add", "-A")
	run(evil, "commit", "-q", "-m", "evil")
	run(g.work, "clone", "-q", "--bare", evil, filepath.Join(root, "evil.git"))

	handler, err := harness.GitHTTPHandler(g.git, root, g.env...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

// archive is `git archive` of a commit in a format (tar.gz, zip).
func (g *gitServer) archive(t *testing.T, commit, format string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "archive."+format)
	tool(t, filepath.Join(g.work, "src"), g.env, g.git, "archive", "--format="+format, "-o", out, commit)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFetchGit(t *testing.T) {
	g := startGitServer(t)
	repo := g.URL + "/repo.git"
	tests := []struct {
		name     string
		url      string
		revision string
		commit   string
		shallow  bool
		app      string // content of src/app.py
	}{
		{"default branch", repo, "", "c4", true, "print('c2')\n"},
		{"branch", repo, "feature", "c3", true, "print('c1')\n"},
		{"annotated tag", repo, "v1", "c1", true, "print('c1')\n"},
		{"lightweight tag", repo, "light", "c1", true, "print('c1')\n"},
		{"full ref", repo, "refs/heads/main", "c4", true, "print('c2')\n"},
		{"commit at a branch tip", repo, "<c3>", "c3", true, "print('c1')\n"},
		{"commit no ref points at, server refuses it alone", repo, "<c2>", "c2", false, "print('c2')\n"},
		{"commit no ref points at, server allows it", g.URL + "/sha.git", "<c2>", "c2", true, "print('c2')\n"},
		{"short hash", repo, "<c1:7>", "c1", false, "print('c1')\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rev := tt.revision
			if strings.HasPrefix(rev, "<") {
				name, n, _ := strings.Cut(strings.Trim(rev, "<>"), ":")
				rev = g.commits[name]
				if n == "7" {
					rev = rev[:7]
				}
			}
			r := fetch(t, "SOURCE="+tt.url, "SOURCE_REVISION="+rev)
			r.wantOK(t)
			want := g.commits[tt.commit]
			if r.results["SOURCE_URI"] != "git+"+tt.url+"@"+want {
				t.Errorf("SOURCE_URI = %s, want git+%s@%s", r.results["SOURCE_URI"], tt.url, want)
			}
			got := snapshot(t, r.dest)
			if got["src/app.py"] != tt.app || got["current"] != "-> src/app.py" || (tt.commit == "c3") != (got["feature.txt"] != "") || (tt.commit == "c4") != (got["later.txt"] != "") {
				t.Errorf("DEST holds %v (src/app.py %q)", keys(got), got["src/app.py"])
			}
			if _, ok := got[".git/"]; ok {
				t.Error("DEST holds a .git folder")
			}
			info, err := os.Stat(filepath.Join(r.dest, "bin/run.sh"))
			if err != nil || info.Mode().Perm() != 0o755 {
				t.Errorf("bin/run.sh: %v, %v; want mode 0755", info, err)
			}
			if shallow := strings.Contains(r.stdout, "(shallow)"); shallow != tt.shallow {
				t.Errorf("shallow = %v, want %v; stdout %q", shallow, tt.shallow, r.stdout)
			}
			if digestOf(t, r.dest) != r.results["SOURCE_DIGEST"] {
				t.Errorf("SOURCE_DIGEST %s is not the digest of DEST", r.results["SOURCE_DIGEST"])
			}
		})
	}
}

// TestFetchGitMatchesGitArchive: the same commit from git and as `git
// archive` tar.gz and zip in S3 has one digest (executables and symlinks
// included).
func TestFetchGitMatchesGitArchive(t *testing.T) {
	g := startGitServer(t)
	srv := harness.StartS3(t)
	srv.CreateBucket(t, "code")
	srv.Put(t, "code", "c2.tar.gz", g.archive(t, g.commits["c2"], "tar.gz"))
	srv.Put(t, "code", "c2.zip", g.archive(t, g.commits["c2"], "zip"))

	fromGit := fetch(t, "SOURCE="+g.URL+"/repo.git", "SOURCE_REVISION="+g.commits["c2"])
	fromGit.wantOK(t)
	for _, key := range []string{"c2.tar.gz", "c2.zip"} {
		r := fetch(t, append(srv.Env(), "SOURCE=s3://code/"+key)...)
		r.wantOK(t)
		if r.results["SOURCE_DIGEST"] != fromGit.results["SOURCE_DIGEST"] || r.results["FILE_COUNT"] != fromGit.results["FILE_COUNT"] {
			t.Errorf("%s: digest %s (%s files), from git %s (%s files)", key, r.results["SOURCE_DIGEST"], r.results["FILE_COUNT"],
				fromGit.results["SOURCE_DIGEST"], fromGit.results["FILE_COUNT"])
		}
	}
}

func TestFetchGitRefusals(t *testing.T) {
	g := startGitServer(t)
	tests := []struct {
		name   string
		env    []string
		code   int
		reason string
		text   string
	}{
		{"missing revision", []string{"SOURCE=" + g.URL + "/repo.git", "SOURCE_REVISION=no-such-branch"}, 3, "NoSuchRevision", `no revision "no-such-branch"`},
		{"missing commit", []string{"SOURCE=" + g.URL + "/repo.git", "SOURCE_REVISION=" + strings.Repeat("ab", 20)}, 3, "NoSuchRevision", "no revision"},
		{"missing repository", []string{"SOURCE=" + g.URL + "/nope.git"}, 3, "NoSuchRepository", "not found"},
		{"symlink out of the tree", []string{"SOURCE=" + g.URL + "/evil.git"}, 3, "UnsafePath", "outside the destination"},
		{"plain http elsewhere", []string{"SOURCE=http://git.example.invalid/repo.git"}, 2, "InsecureSource", "use https"},
		{"password in the URL stays secret", []string{"SOURCE=http://user:s3cr3t-token@git.example.invalid/repo.git"}, 2, "InsecureSource", "REDACTED"},
		{"pack over the byte limit", []string{"SOURCE=" + g.URL + "/repo.git", "FETCH_MAX_BYTES=200"}, 3, "TooLarge", "FETCH_MAX_BYTES=200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fetch(t, tt.env...)
			r.wantRefused(t, tt.code, tt.reason, tt.text, nil)
			if strings.Contains(r.stderr+r.stdout, "s3cr3t-token") {
				t.Error("the token in the URL was printed")
			}
		})
	}
}
