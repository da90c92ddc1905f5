package fetch

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knative-lambda/lambda-builder/internal/step"
	"github.com/knative-lambda/lambda-builder/internal/treedigest"
)

// fakeS3 is just enough of S3 (path-style ListObjectsV2 and GetObject) to
// serve what a real server would refuse to store (keys with ".."), or
// answers a real one would not give (wrong checksums, cut bodies).
type fakeS3 struct {
	bucket string
	status int // answer every request with this S3 error status (403, ...)

	mu      sync.Mutex
	objects map[string]*fakeObject
	gets    map[string]int
}

type fakeObject struct {
	body  []byte
	etag  string // default: the MD5 of body
	crc32 string // x-amz-checksum-crc32 (base64); "" for none
	cut   int    // the first cut GETs send half the body and close
	stall int    // the first stall GETs send half the body, then nothing
}

func TestMain(m *testing.M) {
	// Retries keep their count, not their waits.
	retryBackoff = func(int) time.Duration { return time.Millisecond }
	os.Exit(m.Run())
}

func crc32Of(b []byte) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(b))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func md5Of(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func newFakeS3(t *testing.T, objects map[string]*fakeObject) (*fakeS3, string) {
	f := &fakeS3{bucket: "bucket", objects: objects, gets: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeS3) Gets(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets[key]
}

func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s from the fake</Message></Error>`, code, code)
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.status == http.StatusForbidden {
		s3Error(w, f.status, "AccessDenied")
		return
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if bucket != f.bucket {
		s3Error(w, http.StatusNotFound, "NoSuchBucket")
		return
	}
	if key == "" {
		f.list(w, r.URL.Query().Get("prefix"))
		return
	}
	f.mu.Lock()
	o, ok := f.objects[key]
	f.gets[key]++
	n := f.gets[key]
	f.mu.Unlock()
	if !ok {
		s3Error(w, http.StatusNotFound, "NoSuchKey")
		return
	}
	etag := o.etag
	if etag == "" {
		etag = md5Of(o.body)
	}
	w.Header().Set("ETag", `"`+etag+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(o.body)))
	if o.crc32 != "" && r.Header.Get("x-amz-checksum-mode") == "ENABLED" {
		w.Header().Set("x-amz-checksum-crc32", o.crc32)
	}
	if n <= o.stall {
		w.WriteHeader(http.StatusOK)
		w.Write(o.body[:len(o.body)/2])
		w.(http.Flusher).Flush()
		select { // until the client gives up on it
		case <-r.Context().Done():
		case <-time.After(15 * time.Second):
		}
		return
	}
	if n <= o.cut {
		w.WriteHeader(http.StatusOK)
		w.Write(o.body[:len(o.body)/2])
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
		return
	}
	w.Write(o.body)
}

func (f *fakeS3) list(w http.ResponseWriter, prefix string) {
	type content struct {
		Key  string
		Size int
		ETag string
	}
	type result struct {
		XMLName     xml.Name `xml:"ListBucketResult"`
		Name        string
		Prefix      string
		KeyCount    int
		MaxKeys     int
		IsTruncated bool
		Contents    []content
	}
	res := result{Name: f.bucket, Prefix: prefix, MaxKeys: 1000}
	f.mu.Lock()
	for k, o := range f.objects {
		if strings.HasPrefix(k, prefix) {
			etag := o.etag
			if etag == "" {
				etag = md5Of(o.body)
			}
			res.Contents = append(res.Contents, content{Key: k, Size: len(o.body), ETag: `"` + etag + `"`})
		}
	}
	f.mu.Unlock()
	sort.Slice(res.Contents, func(i, j int) bool { return res.Contents[i].Key < res.Contents[j].Key })
	res.KeyCount = len(res.Contents)
	w.Header().Set("Content-Type", "application/xml")
	xml.NewEncoder(w).Encode(res)
}

// stepRun is one run of the whole step: its error, the results written, what
// DEST holds (path -> content) and where, and the log.
type stepRun struct {
	err     error
	results map[string]string
	dest    map[string]string
	destDir string
	log     string
}

// runS3 runs the whole step against an S3 endpoint.
func runS3(t *testing.T, endpoint, source string, edit func(*Config)) stepRun {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	dir := t.TempDir()
	cfg := Config{
		Source: source, Dest: filepath.Join(dir, "dest"), S3Endpoint: endpoint, Region: "us-east-1",
		Concurrency: 4, MaxBytes: 1 << 30, MaxFiles: 1000, ProgressInterval: time.Hour,
		ResultsConfig: step.ResultsConfig{ResultsDir: filepath.Join(dir, "results"), ResultsBudget: 4096},
	}
	if edit != nil {
		edit(&cfg)
	}
	var log bytes.Buffer
	err := Run(context.Background(), cfg, &log)
	return stepRun{err: err, results: listDir(t, cfg.ResultsDir), dest: listDir(t, cfg.Dest), destDir: cfg.Dest, log: log.String()}
}

func TestS3PrefixFetch(t *testing.T) {
	objects := map[string]*fakeObject{
		"fn/main.py":          {body: []byte("print('hi')\n"), crc32: crc32Of([]byte("print('hi')\n"))},
		"fn/lib/util.py":      {body: []byte("X = 1\n")},                              // MD5 ETag
		"fn/big.bin":          {body: bytes.Repeat([]byte("b"), 300), etag: "0123-2"}, // multipart: size only
		"fn/empty/":           {},
		"other/not-this.txt":  {body: []byte("no")},
		"fn-old/not-this.txt": {body: []byte("no")},
	}
	_, url := newFakeS3(t, objects)
	r := runS3(t, url, "s3://bucket/fn", nil)
	err, results, dest, log, destDir := r.err, r.results, r.dest, r.log, r.destDir
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"big.bin", "empty/", "lib/", "lib/util.py", "main.py"}
	if got := names(dest); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("DEST holds %v, want %v", got, want)
	}
	if digest, _, err := treedigest.Dir(destDir); err != nil || results[ResultDigest] != digest {
		t.Errorf("%s = %s, the digest of DEST is %s (%v)", ResultDigest, results[ResultDigest], digest, err)
	}
	if results[ResultFileCount] != "3" || results[ResultBytes] != "318" || results[ResultURI] != "s3://bucket/fn/" {
		t.Errorf("results %v", results)
	}
	var inputs map[string]string
	if err := json.Unmarshal([]byte(results[ResultArtifactInputs]), &inputs); err != nil || inputs["uri"] != "s3://bucket/fn/" || inputs["digest"] != results[ResultDigest] {
		t.Errorf("%s = %s (%v)", ResultArtifactInputs, results[ResultArtifactInputs], err)
	}
	if !strings.Contains(log, "verified by S3 checksum 1, by MD5 ETag 1, by size only 1") || strings.Count(log, "\n") != 1 {
		t.Errorf("log = %q, want one summary line with the verification counts", log)
	}
}

func TestS3IntegrityFailures(t *testing.T) {
	body := []byte("the real content")
	tests := []struct {
		name string
		obj  *fakeObject
		text string
	}{
		{"wrong checksum", &fakeObject{body: body, crc32: crc32Of([]byte("other content"))}, "checksum did not match"},
		{"wrong MD5 ETag", &fakeObject{body: body, etag: md5Of([]byte("other content"))}, "the ETag says"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, url := newFakeS3(t, map[string]*fakeObject{"fn/a.txt": {body: []byte("fine")}, "fn/b.txt": tt.obj})
			r := runS3(t, url, "s3://bucket/fn/", nil)
			err, results, dest := r.err, r.results, r.dest
			wantStepError(t, err, step.CodeUnavailable, ReasonChecksumMismatch, tt.text)
			if len(results) != 0 || len(dest) != 0 {
				t.Errorf("a failed fetch left results %v and DEST %v", names(results), names(dest))
			}
			if n := f.Gets("fn/b.txt"); n != bodyAttempts {
				t.Errorf("GETs of the bad object = %d, want %d (bounded retries)", n, bodyAttempts)
			}
		})
	}
}

func TestS3BrokenBodies(t *testing.T) {
	t.Run("retried", func(t *testing.T) {
		f, url := newFakeS3(t, map[string]*fakeObject{"fn/a.bin": {body: bytes.Repeat([]byte("a"), 100_000), cut: bodyAttempts - 1}})
		r := runS3(t, url, "s3://bucket/fn/", nil)
		err, results, dest := r.err, r.results, r.dest
		if err != nil {
			t.Fatal(err)
		}
		if dest["a.bin"] != strings.Repeat("a", 100_000) || results[ResultBytes] != "100000" {
			t.Errorf("after retries: %d bytes on disk, results %v", len(dest["a.bin"]), results)
		}
		if n := f.Gets("fn/a.bin"); n != bodyAttempts {
			t.Errorf("GETs = %d, want %d", n, bodyAttempts)
		}
	})
	t.Run("gives up", func(t *testing.T) {
		f, url := newFakeS3(t, map[string]*fakeObject{"fn/a.bin": {body: bytes.Repeat([]byte("a"), 100_000), cut: 1000}})
		r := runS3(t, url, "s3://bucket/fn/", nil)
		err, results, dest := r.err, r.results, r.dest
		wantStepError(t, err, step.CodeUnavailable, "Unavailable", fmt.Sprintf("after %d attempts", bodyAttempts))
		if len(results) != 0 || len(dest) != 0 {
			t.Errorf("a failed fetch left results %v and DEST %v", names(results), names(dest))
		}
		if n := f.Gets("fn/a.bin"); n != bodyAttempts {
			t.Errorf("GETs = %d, want %d (bounded)", n, bodyAttempts)
		}
	})
}

// TestS3StalledBodyIsRetried: a body that stops moving is abandoned after
// the stall timeout and fetched again.
func TestS3StalledBodyIsRetried(t *testing.T) {
	body := bytes.Repeat([]byte("s"), 100_000)
	f, url := newFakeS3(t, map[string]*fakeObject{"fn/slow.bin": {body: body, stall: 1}})
	t.Setenv("AWS_ACCESS_KEY_ID", "key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	client, err := NewS3Client(context.Background(), Config{S3Endpoint: url, Region: "us-east-1", Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	src := NewS3Source(client, SourceRef{Kind: KindS3Prefix, Bucket: "bucket", Key: "fn/"}, 2, Limits{MaxBytes: 1 << 20, MaxFiles: 10})
	src.(*s3Source).stall = 200 * time.Millisecond
	dest := filepath.Join(t.TempDir(), "dest")
	start := time.Now()
	rep, err := FetchInto(context.Background(), src, dest, false, Limits{MaxBytes: 1 << 20, MaxFiles: 10}, time.Hour, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dest, "slow.bin")); !bytes.Equal(got, body) || rep.Files != 1 {
		t.Errorf("fetched %d bytes, %d files", len(got), rep.Files)
	}
	if n := f.Gets("fn/slow.bin"); n != 2 {
		t.Errorf("GETs = %d, want 2 (the stalled one, then a good one)", n)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("took %s: the stall was not cut short", el)
	}
}

func TestS3HostileKeys(t *testing.T) {
	for _, key := range []string{"fn/../../evil", "fn/a/../../../evil", "fn//etc/passwd", `fn/..\..\evil`} {
		t.Run(key, func(t *testing.T) {
			_, url := newFakeS3(t, map[string]*fakeObject{"fn/ok.txt": {body: []byte("ok")}, key: {body: []byte("evil")}})
			r := runS3(t, url, "s3://bucket/fn/", nil)
			err, results, dest := r.err, r.results, r.dest
			wantStepError(t, err, step.CodeInput, ReasonUnsafePath, "refusing to write it")
			if len(results) != 0 || len(dest) != 0 {
				t.Errorf("a refused fetch left results %v and DEST %v", names(results), names(dest))
			}
		})
	}
}

func TestS3Refusals(t *testing.T) {
	objects := map[string]*fakeObject{"fn/a.txt": {body: []byte("12345")}, "fn/b.txt": {body: []byte("12345")}}
	tests := []struct {
		name   string
		source string
		status int
		edit   func(*Config)
		code   int
		reason string
		text   string
	}{
		{name: "missing bucket", source: "s3://nobucket/fn/", code: step.CodeInput, reason: ReasonNoSuchBucket, text: `bucket "nobucket" does not exist`},
		{name: "empty prefix", source: "s3://bucket/nothing/", code: step.CodeInput, reason: ReasonEmptySource, text: "no objects under s3://bucket/nothing/"},
		{name: "missing archive", source: "s3://bucket/code.zip", code: step.CodeInput, reason: ReasonNoSuchKey, text: "no such object"},
		{name: "access denied", source: "s3://bucket/fn/", status: http.StatusForbidden, code: step.CodeUnavailable, reason: ReasonAccessDenied, text: "IRSA"},
		{name: "listing over the byte limit", source: "s3://bucket/fn/", edit: func(c *Config) { c.MaxBytes = 9 }, code: step.CodeInput, reason: ReasonTooLarge, text: "FETCH_MAX_BYTES=9"},
		{name: "listing over the file limit", source: "s3://bucket/fn/", edit: func(c *Config) { c.MaxFiles = 1 }, code: step.CodeInput, reason: ReasonTooLarge, text: "FETCH_MAX_FILES=1"},
		{name: "archive over the byte limit", source: "s3://bucket/fn/a.tar", edit: func(c *Config) { c.MaxBytes = 4 }, code: step.CodeInput, reason: ReasonTooLarge, text: "FETCH_MAX_BYTES=4"},
		{name: "git revision for an S3 source", source: "s3://bucket/fn/", edit: func(c *Config) { c.Revision = "main" }, code: step.CodeConfig, reason: "InvalidConfig", text: "SOURCE_REVISION"},
		{name: "bad endpoint", source: "s3://bucket/fn/", edit: func(c *Config) { c.S3Endpoint = "localhost:9000" }, code: step.CodeConfig, reason: "InvalidConfig", text: "S3_ENDPOINT"},
		{name: "empty credentials workspace", source: "s3://bucket/fn/", edit: func(c *Config) { c.CredentialsDir = c.Dest + "-creds" }, code: step.CodeConfig, reason: "InvalidConfig", text: "neither a `credentials` nor a `config` file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := map[string]*fakeObject{}
			for k, v := range objects {
				objs[k] = v
			}
			objs["fn/a.tar"] = &fakeObject{body: []byte("123456789")}
			f, url := newFakeS3(t, objs)
			f.status = tt.status
			r := runS3(t, url, tt.source, tt.edit)
			err, results, dest := r.err, r.results, r.dest
			wantStepError(t, err, tt.code, tt.reason, tt.text)
			if len(results) != 0 || len(dest) != 0 {
				t.Errorf("a refused fetch left results %v and DEST %v", names(results), names(dest))
			}
			if strings.Contains(tt.name, "listing over") && f.Gets("fn/a.txt")+f.Gets("fn/b.txt") > 1 {
				t.Errorf("the listing was over the limit, yet objects were downloaded")
			}
		})
	}
}

func TestS3CredentialsWorkspace(t *testing.T) {
	_, url := newFakeS3(t, map[string]*fakeObject{"fn/a.txt": {body: []byte("a")}})
	creds := t.TempDir()
	os.WriteFile(filepath.Join(creds, "credentials"), []byte("[default]\naws_access_key_id = fromfile\naws_secret_access_key = fromfile-secret\n"), 0o600)
	r := runS3(t, url, "s3://bucket/fn/", func(c *Config) { c.CredentialsDir = creds })
	err, results, log := r.err, r.results, r.log
	if err != nil || results[ResultFileCount] != "1" {
		t.Fatalf("fetch with the credentials workspace: %v %v", err, results)
	}
	if strings.Contains(log, "fromfile-secret") {
		t.Error("the secret key reached the log")
	}
}

func TestS3ConcurrencyAndProgress(t *testing.T) {
	objects := map[string]*fakeObject{}
	for i := range 200 {
		b := []byte(strings.Repeat(strconv.Itoa(i), 50))
		objects[fmt.Sprintf("fn/node_modules/p%02d/f%03d.js", i%20, i)] = &fakeObject{body: b, crc32: crc32Of(b)}
	}
	_, url := newFakeS3(t, objects)
	r := runS3(t, url, "s3://bucket/fn/", func(c *Config) { c.Concurrency = 32; c.ProgressInterval = time.Microsecond })
	err, results, dest, log := r.err, r.results, r.dest, r.log
	if err != nil {
		t.Fatal(err)
	}
	if results[ResultFileCount] != "200" || len(dest) != 221 {
		t.Errorf("results %v, DEST entries %d", results, len(dest))
	}
	lines := strings.Split(strings.TrimSpace(log), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], "so far") || !strings.Contains(lines[len(lines)-1], "fetched s3://bucket/fn/: 200 files") {
		t.Errorf("log = %q, want progress lines then a summary", log)
	}
}
