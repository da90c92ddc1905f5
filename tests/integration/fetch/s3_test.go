//go:build integration

package fetch

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/knative-lambda/lambda-builder/tests/harness"
)

// appTree is a small function with a node_modules-like folder. Its files are
// all 0644 and it has no symlinks: an S3 prefix can carry neither.
func appTree(t *testing.T) map[string]string {
	big := make([]byte, 3<<20)
	rand.Read(big)
	return map[string]string{
		"package.json":                        `{"name":"fn","main":"index.js"}`,
		"index.js":                            "exports.handler = async () => 'hi'\n",
		"node_modules/left-pad/package.json":  `{"name":"left-pad"}`,
		"node_modules/left-pad/index.js":      "module.exports = (s) => s\n",
		"node_modules/@scope/pkg/lib/deep.js": "module.exports = 1\n",
		"src/with space/and-üñí.txt":          "names are kept as they are\n",
		"assets/blob.bin":                     string(big),
		"empty.txt":                           "",
	}
}

func TestFetchS3PrefixUploadedWithTheSDK(t *testing.T) {
	srv := harness.StartS3(t)
	srv.CreateBucket(t, "code")
	local := writeTree(t, appTree(t))
	uploadDir(t, srv, "code", "fn/v1/", local)
	srv.Put(t, "code", "fn/v1-old/not-this.js", []byte("a sibling prefix")) // "fn/v1" must not match it

	r := fetch(t, append(srv.Env(), "SOURCE=s3://code/fn/v1")...)
	r.wantOK(t)
	if got, want := snapshot(t, r.dest), snapshot(t, local); !equalMaps(got, want) {
		t.Errorf("DEST holds %v, want %v", keys(got), keys(want))
	}
	want := digestOf(t, local)
	if r.results["SOURCE_DIGEST"] != want || digestOf(t, r.dest) != want {
		t.Errorf("SOURCE_DIGEST = %s, the uploaded folder's digest is %s", r.results["SOURCE_DIGEST"], want)
	}
	if r.results["FILE_COUNT"] != "8" || r.results["SOURCE_URI"] != "s3://code/fn/v1/" {
		t.Errorf("results: %v", r.results)
	}
	var inputs struct{ URI, Digest string }
	if err := json.Unmarshal([]byte(r.results["SOURCE_ARTIFACT_INPUTS"]), &inputs); err != nil || inputs.URI != "s3://code/fn/v1/" || inputs.Digest != want {
		t.Errorf("SOURCE_ARTIFACT_INPUTS = %s (%v)", r.results["SOURCE_ARTIFACT_INPUTS"], err)
	}
	// versitygw returns a full-object checksum for what the SDK uploads.
	if !strings.Contains(r.stdout, "verified by S3 checksum 8") {
		t.Errorf("summary: %q, want every object verified by its checksum", r.stdout)
	}
	if strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("stdout = %q, want one summary line for a short fetch", r.stdout)
	}
}

// TestFetchS3PrefixUploadedWithAWSCLI: what users upload with `aws s3 sync`
// (Debian's awscli, multipart for the large file) comes back identical.
func TestFetchS3PrefixUploadedWithAWSCLI(t *testing.T) {
	aws := harness.Tool(t, "/usr/bin/aws")
	srv := harness.StartS3(t)
	srv.CreateBucket(t, "code")
	files := appTree(t)
	large := make([]byte, 20<<20)
	rand.Read(large)
	files["assets/model.bin"] = string(large) // over awscli's 8 MiB multipart threshold
	local := writeTree(t, files)
	tool(t, local, srv.Env(), aws, "--endpoint-url", srv.Endpoint, "s3", "sync", "--only-show-errors", ".", "s3://code/uploads/fn/")

	r := fetch(t, append(srv.Env(), "SOURCE=s3://code/uploads/fn/")...)
	r.wantOK(t)
	if got, want := digestOf(t, r.dest), digestOf(t, local); got != want || r.results["SOURCE_DIGEST"] != want {
		t.Errorf("digest of DEST %s, result %s; the local folder's %s", got, r.results["SOURCE_DIGEST"], want)
	}
	if r.results["FILE_COUNT"] != "9" || r.results["BYTES"] != fmt.Sprint(treeBytes(files)) {
		t.Errorf("results: FILE_COUNT %s BYTES %s", r.results["FILE_COUNT"], r.results["BYTES"])
	}
}

func treeBytes(files map[string]string) int {
	n := 0
	for _, c := range files {
		n += len(c)
	}
	return n
}

// TestFetchS3ArchivesMatchThePrefix: the same tree as a prefix, a tar.gz, a
// .tgz, a .tar (made by GNU tar) and a .zip gives one digest.
func TestFetchS3ArchivesMatchThePrefix(t *testing.T) {
	srv := harness.StartS3(t)
	srv.CreateBucket(t, "code")
	local := writeTree(t, appTree(t))
	want := digestOf(t, local)
	uploadDir(t, srv, "code", "tree/", local)
	work := t.TempDir()
	tool(t, local, nil, "tar", "-czf", filepath.Join(work, "code.tar.gz"), ".")
	tool(t, local, nil, "tar", "-cf", filepath.Join(work, "code.tar"), "--owner=0", "--group=0", ".")
	for name, path := range map[string]string{"code.tar.gz": "code.tar.gz", "code.tgz": "code.tar.gz", "code.tar": "code.tar"} {
		b, err := os.ReadFile(filepath.Join(work, path))
		if err != nil {
			t.Fatal(err)
		}
		srv.Put(t, "code", "archives/"+name, b)
	}
	srv.Put(t, "code", "archives/code.zip", zipDir(t, local))

	for _, source := range []string{"s3://code/tree/", "s3://code/archives/code.tar.gz", "s3://code/archives/code.tgz", "s3://code/archives/code.tar", "s3://code/archives/code.zip"} {
		t.Run(source, func(t *testing.T) {
			r := fetch(t, append(srv.Env(), "SOURCE="+source)...)
			r.wantOK(t)
			if r.results["SOURCE_DIGEST"] != want || r.results["FILE_COUNT"] != "8" {
				t.Errorf("SOURCE_DIGEST %s FILE_COUNT %s; want %s and 8", r.results["SOURCE_DIGEST"], r.results["FILE_COUNT"], want)
			}
			if got := snapshot(t, r.dest); !equalMaps(got, snapshot(t, local)) {
				t.Errorf("DEST holds %v", keys(got))
			}
			if r.results["SOURCE_URI"] != source {
				t.Errorf("SOURCE_URI = %s, want %s", r.results["SOURCE_URI"], source)
			}
		})
	}
}

// zipDir zips a folder with Go's writer, keeping modes and symlinks.
func zipDir(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			h.Name += "/"
		} else {
			h.Method = zip.Deflate
		}
		w, err := zw.CreateHeader(h)
		if err != nil || d.IsDir() {
			return err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			_, err = io.WriteString(w, target)
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tarGzOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	dir := writeTree(t, files)
	out := filepath.Join(t.TempDir(), "a.tar.gz")
	tool(t, dir, nil, "tar", "-czf", out, ".")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFetchS3ArchiveVersion: ?versionId= fetches that version, and the URI
// of a fetch without one is pinned to the version it got.
func TestFetchS3ArchiveVersion(t *testing.T) {
	srv := harness.StartS3With(t, harness.S3Options{Versioning: true})
	srv.CreateBucket(t, "code")
	client := srv.Client()
	ctx := context.Background()
	if _, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("code"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	put := func(files map[string]string) string {
		out, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("code"), Key: aws.String("fn/code.tar.gz"), Body: bytes.NewReader(tarGzOf(t, files))})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.VersionId)
	}
	v1 := put(map[string]string{"main.py": "print('v1')\n"})
	v2 := put(map[string]string{"main.py": "print('v2')\n"})
	if v1 == "" || v1 == v2 {
		t.Fatalf("versions %q and %q: versioning is not on", v1, v2)
	}

	r := fetch(t, append(srv.Env(), "SOURCE=s3://code/fn/code.tar.gz?versionId="+v1)...)
	r.wantOK(t)
	if got := snapshot(t, r.dest)["main.py"]; got != "print('v1')\n" {
		t.Errorf("versionId %s gave main.py = %q", v1, got)
	}
	if r.results["SOURCE_URI"] != "s3://code/fn/code.tar.gz?versionId="+v1 {
		t.Errorf("SOURCE_URI = %s", r.results["SOURCE_URI"])
	}
	r = fetch(t, append(srv.Env(), "SOURCE=s3://code/fn/code.tar.gz")...)
	r.wantOK(t)
	if got := snapshot(t, r.dest)["main.py"]; got != "print('v2')\n" || r.results["SOURCE_URI"] != "s3://code/fn/code.tar.gz?versionId="+v2 {
		t.Errorf("latest: main.py = %q, SOURCE_URI = %s (want pinned to %s)", got, r.results["SOURCE_URI"], v2)
	}
}

func TestFetchS3Refusals(t *testing.T) {
	srv := harness.StartS3(t)
	srv.CreateBucket(t, "code")
	srv.Put(t, "code", "fn/main.py", []byte("print(1)\n"))
	srv.Put(t, "code", `bad/a\..\..\evil.py`, []byte("x")) // versitygw stores it; Windows tools would not
	wrong := append(srv.Env(), "AWS_SECRET_ACCESS_KEY=not-the-secret")
	tests := []struct {
		name   string
		env    []string
		code   int
		reason string
		text   string
	}{
		{"missing bucket", append(srv.Env(), "SOURCE=s3://nosuchbucket/fn/"), 3, "NoSuchBucket", `bucket "nosuchbucket" does not exist`},
		{"empty prefix", append(srv.Env(), "SOURCE=s3://code/nothing-here/"), 3, "EmptySource", "no objects under s3://code/nothing-here/"},
		{"missing archive", append(srv.Env(), "SOURCE=s3://code/fn/code.zip"), 3, "NoSuchKey", "no such object"},
		{"wrong credentials", append(wrong, "SOURCE=s3://code/fn/"), 4, "AccessDenied", "IRSA"},
		{"backslash key", append(srv.Env(), "SOURCE=s3://code/bad/"), 3, "UnsafePath", "backslash"},
		{"unknown scheme", append(srv.Env(), "SOURCE=ftp://code/fn/"), 2, "UnknownSource", `unknown scheme "ftp"`},
		{"no source", srv.Env(), 2, "InvalidConfig", "SOURCE"},
		{"bad limit", append(srv.Env(), "SOURCE=s3://code/fn/", "FETCH_MAX_BYTES=lots"), 2, "InvalidConfig", "FETCH_MAX_BYTES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fetch(t, tt.env...)
			r.wantRefused(t, tt.code, tt.reason, tt.text, nil)
			if strings.Contains(r.stderr+r.stdout, "not-the-secret") || strings.Contains(r.stderr+r.stdout, srv.SecretKey) {
				t.Error("a secret key was printed")
			}
		})
	}
}

// TestFetchS3DestHoldingFiles: refused without CLEAN_DEST; replaced with it;
// and kept as it was when a CLEAN_DEST fetch fails.
func TestFetchS3DestHoldingFiles(t *testing.T) {
	srv := harness.StartS3(t)
	srv.CreateBucket(t, "code")
	srv.Put(t, "code", "fn/main.py", []byte("print('new')\n"))
	dest := filepath.Join(t.TempDir(), "dest")
	os.MkdirAll(filepath.Join(dest, "old"), 0o755)
	os.WriteFile(filepath.Join(dest, "old", "main.py"), []byte("print('old')\n"), 0o644)
	before := snapshot(t, dest)

	r := fetch(t, append(srv.Env(), "SOURCE=s3://code/fn/", "DEST="+dest)...)
	r.wantRefused(t, 2, "DestNotEmpty", "CLEAN_DEST=true", before)

	r = fetch(t, append(srv.Env(), "SOURCE=s3://code/nothing/", "DEST="+dest, "CLEAN_DEST=true")...)
	r.wantRefused(t, 3, "EmptySource", "no objects", before)

	r = fetch(t, append(srv.Env(), "SOURCE=s3://code/fn/", "DEST="+dest, "CLEAN_DEST=true")...)
	r.wantOK(t)
	if got := snapshot(t, dest); len(got) != 1 || got["main.py"] != "print('new')\n" {
		t.Errorf("after CLEAN_DEST: %v", keys(got))
	}
}

// TestFetchS3CredentialsWorkspace: with no keys in the environment, the
// aws-credentials workspace (a shared credentials file) is used.
func TestFetchS3CredentialsWorkspace(t *testing.T) {
	srv := harness.StartS3(t)
	srv.CreateBucket(t, "code")
	srv.Put(t, "code", "fn/main.py", []byte("print(1)\n"))
	env := []string{"S3_ENDPOINT=" + srv.Endpoint, "AWS_REGION=" + srv.Region, "AWS_EC2_METADATA_DISABLED=true", "SOURCE=s3://code/fn/"}
	creds := func(secret string) string {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "credentials"), []byte(fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", srv.AccessKey, secret)), 0o600)
		return dir
	}
	r := fetch(t, append(env, "AWS_CREDENTIALS_DIR="+creds(srv.SecretKey))...)
	r.wantOK(t)

	r = fetch(t, append(env, "AWS_CREDENTIALS_DIR="+creds("wrong-secret-from-file"))...)
	r.wantRefused(t, 4, "AccessDenied", "aws-credentials workspace", nil)
	if strings.Contains(r.stderr+r.stdout, "wrong-secret-from-file") {
		t.Error("the secret from the workspace was printed")
	}

	r = fetch(t, env...) // no credentials anywhere
	r.wantRefused(t, 2, "NoCredentials", "IRSA", nil)
}

// TestFetchS3CorruptedObject: bytes changed on the server's disk behind its
// back no longer match the checksum it stored: the fetch fails, bounded.
func TestFetchS3CorruptedObject(t *testing.T) {
	srv := harness.StartS3(t)
	srv.CreateBucket(t, "code")
	srv.Put(t, "code", "fn/ok.py", []byte("print('ok')\n"))
	srv.Put(t, "code", "fn/lib.py", []byte("print('original')\n"))
	if err := os.WriteFile(filepath.Join(srv.Root, "code", "fn", "lib.py"), []byte("print('tampered')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := fetch(t, append(srv.Env(), "SOURCE=s3://code/fn/")...)
	r.wantRefused(t, 4, "ChecksumMismatch", "s3://code/fn/lib.py", nil)
}

func TestFetchProgressLines(t *testing.T) {
	srv := harness.StartS3(t)
	srv.CreateBucket(t, "code")
	uploadDir(t, srv, "code", "fn/", writeTree(t, appTree(t)))
	r := fetch(t, append(srv.Env(), "SOURCE=s3://code/fn/", "FETCH_PROGRESS_INTERVAL=1ms", "FETCH_CONCURRENCY=1")...)
	r.wantOK(t)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], "files,") || !strings.Contains(lines[0], "so far") {
		t.Errorf("stdout = %q, want progress lines (files, bytes, rate) before the summary", r.stdout)
	}
}
