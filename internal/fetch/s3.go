package fetch

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"

	"github.com/knative-lambda/lambda-builder/internal/step"
	"github.com/knative-lambda/lambda-builder/internal/treedigest"
)

// Exit reasons of S3 failures.
const (
	ReasonEmptySource      = "EmptySource"
	ReasonChecksumMismatch = "ChecksumMismatch"
)

// S3API is the part of the S3 client the fetcher uses.
type S3API interface {
	s3.ListObjectsV2APIClient
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Retry policy. The SDK retries a request that fails before its body
// (connection refused or reset, 5xx, throttling) up to sdkAttempts times; the
// fetcher restarts a download whose body breaks or fails its check up to
// bodyAttempts times. Both are bounded.
const (
	sdkAttempts   = 5
	sdkMaxBackoff = 2 * time.Second
	bodyAttempts  = 4
	// stallTimeout ends an attempt whose body has not moved for that long.
	stallTimeout = 60 * time.Second
)

type s3Source struct {
	client      S3API
	ref         SourceRef
	concurrency int
	maxBytes    int64
	maxFiles    int64

	attempts int
	backoff  func(attempt int) time.Duration
	stall    time.Duration

	uri      string
	checksum atomic.Int64 // objects verified by an S3 checksum
	etag     atomic.Int64 // by their MD5 ETag
	sizeOnly atomic.Int64 // by size alone (multipart without a full-object checksum, SSE-KMS)
}

// NewS3Source is the S3 fetcher over any client (tests give a fake one).
func NewS3Source(client S3API, ref SourceRef, concurrency int, limits Limits) Source {
	return &s3Source{
		client: client, ref: ref, concurrency: concurrency, maxBytes: limits.MaxBytes, maxFiles: limits.MaxFiles,
		attempts: bodyAttempts, backoff: retryBackoff, stall: stallTimeout,
		uri: "s3://" + ref.Bucket + "/" + ref.Key,
	}
}

func newS3Source(ctx context.Context, cfg Config, ref SourceRef) (Source, error) {
	client, err := NewS3Client(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return NewS3Source(client, ref, cfg.Concurrency, Limits{MaxBytes: cfg.MaxBytes, MaxFiles: cfg.MaxFiles}), nil
}

// NewS3Client builds a client from the default credential chain (IRSA web
// identity, environment, shared files: those of the aws-credentials
// workspace when it is bound), with a connection pool sized for the workers.
func NewS3Client(ctx context.Context, cfg Config) (*s3.Client, error) {
	pool := 2*cfg.Concurrency + 4
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		// The SDK keeps 10 idle connections per host: with 32 workers
		// every request past those would open a new connection.
		tr.MaxIdleConns = pool
		tr.MaxIdleConnsPerHost = pool
		tr.ResponseHeaderTimeout = stallTimeout
	})
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithLogger(logging.Nop{}),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = sdkAttempts
				o.MaxBackoff = sdkMaxBackoff
				// The client-side retry quota would turn a burst of faults
				// over 2,000 small objects into failures: attempts are
				// bounded per request already.
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.CredentialsDir != "" {
		files, err := credentialFiles(cfg.CredentialsDir)
		if err != nil {
			return nil, err
		}
		opts = append(opts, files...)
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, step.ConfigError("loading the AWS configuration: %v", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	var endpoint string
	if cfg.S3Endpoint != "" {
		u, err := url.Parse(cfg.S3Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, step.ConfigError("S3_ENDPOINT %q is not an http(s) URL", cfg.S3Endpoint)
		}
		endpoint = cfg.S3Endpoint
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			// S3-compatible stores rarely serve bucket.host names.
			o.UsePathStyle = true
		}
		// Multipart objects have no full-object checksum to check; the
		// summary line counts them instead of a log line each.
		o.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}

// credentialFiles points the SDK at the aws-credentials workspace: AWS shared
// `credentials` and `config` files, as `aws configure` writes them.
func credentialFiles(dir string) ([]func(*config.LoadOptions) error, error) {
	var opts []func(*config.LoadOptions) error
	if p := filepath.Join(dir, "credentials"); exists(p) {
		opts = append(opts, config.WithSharedCredentialsFiles([]string{p}))
	}
	if p := filepath.Join(dir, "config"); exists(p) {
		opts = append(opts, config.WithSharedConfigFiles([]string{p}))
	}
	if len(opts) == 0 {
		return nil, step.ConfigError("the aws-credentials workspace (%s) holds neither a `credentials` nor a `config` file; bind a Secret with those keys", dir)
	}
	return opts, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (s *s3Source) URI() string { return s.uri }

func (s *s3Source) Detail() string {
	return fmt.Sprintf("verified by S3 checksum %d, by MD5 ETag %d, by size only %d", s.checksum.Load(), s.etag.Load(), s.sizeOnly.Load())
}

func (s *s3Source) Fetch(ctx context.Context, t *Tree, scratch string) error {
	if s.ref.Kind == KindS3Archive {
		return s.fetchArchive(ctx, t, scratch)
	}
	return s.fetchPrefix(ctx, t)
}

// object is one download: where from, what to expect, where to.
type object struct {
	key       string
	versionID string
	ifMatch   string // the listing's ETag: an object replaced meanwhile fails
	size      int64  // expected size; -1 when unknown
	maxSize   int64  // refuse a larger object before reading it; 0: no limit
	rel       string // path in the tree
}

func (s *s3Source) fetchPrefix(ctx context.Context, t *Tree) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan object, 4*s.concurrency)
	var wg sync.WaitGroup
	for range s.concurrency {
		wg.Go(func() {
			buf := make([]byte, copyBufferSize)
			for o := range jobs {
				if ctx.Err() != nil {
					continue // drain
				}
				if err := s.fetchFile(ctx, t, o, buf); err != nil {
					cancel(err)
				}
			}
		})
	}
	listErr := s.list(ctx, t, func(o object) error {
		select {
		case jobs <- o:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	if listErr != nil {
		cancel(listErr) // a refused key or page stops the downloads in flight
	}
	close(jobs)
	wg.Wait()
	// The first failure wins: a worker's error cancels the listing and the
	// other workers, whose own errors are only its echo.
	return context.Cause(ctx)
}

// list pages through the prefix, checks every key and the running totals,
// and hands each object to emit as soon as its page arrives.
func (s *s3Source) list(ctx context.Context, t *Tree, emit func(object) error) error {
	prefix := s.ref.Key
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.ref.Bucket), Prefix: aws.String(prefix)})
	var objects, total int64
	for p.HasMorePages() {
		var page *s3.ListObjectsV2Output
		err := s.retryBody(ctx, func() error {
			var err error
			page, err = p.NextPage(ctx)
			return err
		})
		if err != nil {
			return s.classify(err, "listing "+s.uri)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			rel, err := cleanPathAs("S3 key", key, strings.TrimPrefix(key, prefix))
			if err != nil {
				return err
			}
			size := aws.ToInt64(o.Size)
			if strings.HasSuffix(key, "/") {
				// A folder marker (the console's "Create folder").
				if err := t.Mkdir(rel); err != nil {
					return err
				}
				continue
			}
			objects++
			total += size
			switch {
			case objects > s.maxFiles:
				return step.Errorf(step.CodeInput, ReasonTooLarge, "%s holds more than FETCH_MAX_FILES=%d objects; raise FETCH_MAX_FILES or fetch a smaller prefix", s.uri, s.maxFiles)
			case total > s.maxBytes:
				return step.Errorf(step.CodeInput, ReasonTooLarge, "the objects under %s total more than FETCH_MAX_BYTES=%d bytes; raise FETCH_MAX_BYTES or fetch a smaller prefix", s.uri, s.maxBytes)
			}
			if err := emit(object{key: key, ifMatch: aws.ToString(o.ETag), size: size, rel: rel}); err != nil {
				return err
			}
		}
	}
	if objects == 0 {
		return step.Errorf(step.CodeInput, ReasonEmptySource, "no objects under %s; check SOURCE (keys are case-sensitive) and that the upload finished", s.uri)
	}
	return nil
}

// fetchFile downloads one object into a new file of the tree.
func (s *s3Source) fetchFile(ctx context.Context, t *Tree, o object, buf []byte) error {
	f, err := t.Create(o.rel, treedigest.File)
	if err != nil {
		return err
	}
	if _, err := s.download(ctx, o, f, buf); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

func (s *s3Source) fetchArchive(ctx context.Context, t *Tree, scratch string) error {
	path := filepath.Join(scratch, "archive")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	sink := &fileSink{f: f, max: s.maxBytes, name: s.uri}
	out, err := s.download(ctx, object{key: s.ref.Key, versionID: s.ref.VersionID, size: -1, maxSize: s.maxBytes}, sink, make([]byte, copyBufferSize))
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if v := aws.ToString(out.VersionId); v != "" && v != "null" {
		s.uri = "s3://" + s.ref.Bucket + "/" + s.ref.Key + "?versionId=" + url.QueryEscape(v)
	}
	return ExtractFile(path, s.ref.Archive, s.uri, t)
}

// sink is where a download goes; Reset empties it for another attempt.
type sink interface {
	io.Writer
	Reset() error
}

// fileSink is a scratch file bounded to max bytes (the archive itself).
type fileSink struct {
	f    *os.File
	n    int64
	max  int64
	name string
}

func (w *fileSink) Write(p []byte) (int, error) {
	if w.n+int64(len(p)) > w.max {
		return 0, step.Errorf(step.CodeInput, ReasonTooLarge, "%s is larger than FETCH_MAX_BYTES=%d bytes; raise FETCH_MAX_BYTES", w.name, w.max)
	}
	n, err := w.f.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *fileSink) Reset() error {
	w.n = 0
	if err := w.f.Truncate(0); err != nil {
		return err
	}
	_, err := w.f.Seek(0, io.SeekStart)
	return err
}

// download gets one object into w, checking its size and its S3 checksum or
// MD5 ETag, and starts over when the body breaks or fails a check.
func (s *s3Source) download(ctx context.Context, o object, w sink, buf []byte) (*s3.GetObjectOutput, error) {
	uri := "s3://" + s.ref.Bucket + "/" + o.key
	for attempt := 1; ; attempt++ {
		out, err := s.getOnce(ctx, o, w, buf)
		if err == nil {
			return out, nil
		}
		if !isBodyError(err) || attempt >= s.attempts || ctx.Err() != nil {
			if isBodyError(err) {
				err = fmt.Errorf("%w (after %d attempts)", err, attempt)
			}
			return nil, s.classify(err, "downloading "+uri)
		}
		if err := w.Reset(); err != nil {
			return nil, err
		}
		if err := sleep(ctx, s.backoff(attempt)); err != nil {
			return nil, err
		}
	}
}

// bodyError is a failure after the response headers: a broken or stalled
// body, a wrong size, a checksum or ETag that does not match. Another attempt
// may succeed. Errors before the body were retried by the SDK already.
type bodyError struct {
	err       error
	integrity bool // the bytes arrived but are not the object's
}

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

func isBodyError(err error) bool {
	var be *bodyError
	return errors.As(err, &be)
}

// writeError marks a failure of the destination (a limit, a full disk): not
// worth another attempt.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

type taggedWriter struct{ w io.Writer }

func (t taggedWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

func (s *s3Source) getOnce(ctx context.Context, o object, w sink, buf []byte) (*s3.GetObjectOutput, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	in := &s3.GetObjectInput{Bucket: aws.String(s.ref.Bucket), Key: aws.String(o.key), ChecksumMode: types.ChecksumModeEnabled}
	if o.versionID != "" {
		in.VersionId = aws.String(o.versionID)
	}
	if o.ifMatch != "" {
		in.IfMatch = aws.String(o.ifMatch)
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	length := aws.ToInt64(out.ContentLength)
	if o.maxSize > 0 && length > o.maxSize {
		return nil, step.Errorf(step.CodeInput, ReasonTooLarge, "s3://%s/%s is %d bytes, over FETCH_MAX_BYTES=%d; raise FETCH_MAX_BYTES", s.ref.Bucket, o.key, length, o.maxSize)
	}
	var md5sum hash.Hash
	var dst io.Writer = taggedWriter{w}
	etag := strings.Trim(aws.ToString(out.ETag), `"`)
	checked := false
	if m, ok := s3.GetChecksumValidationMetadata(out.ResultMetadata); ok && len(m.AlgorithmsUsed) > 0 {
		checked = true // the SDK checks the body against it at EOF
	} else if etagIsMD5(etag, out) {
		md5sum = md5.New()
		dst = io.MultiWriter(dst, md5sum)
	}
	body := newStallReader(out.Body, s.stall, cancel)
	defer body.stop()
	n, err := io.CopyBuffer(dst, body, buf)
	if err != nil {
		var we *writeError
		if errors.As(err, &we) {
			return nil, we.err
		}
		return nil, &bodyError{err: readFailure(err, ctx), integrity: strings.Contains(err.Error(), "checksum did not match")}
	}
	switch {
	case out.ContentLength != nil && n != length:
		return nil, &bodyError{err: fmt.Errorf("got %d bytes, the response announced %d", n, length), integrity: true}
	case o.size >= 0 && n != o.size:
		return nil, &bodyError{err: fmt.Errorf("got %d bytes, the listing said %d", n, o.size), integrity: true}
	case md5sum != nil && hex.EncodeToString(md5sum.Sum(nil)) != strings.ToLower(etag):
		return nil, &bodyError{err: fmt.Errorf("the MD5 of the body is %x, the ETag says %s", md5sum.Sum(nil), etag), integrity: true}
	}
	switch {
	case checked:
		s.checksum.Add(1)
	case md5sum != nil:
		s.etag.Add(1)
	default:
		s.sizeOnly.Add(1)
	}
	return out, nil
}

// etagIsMD5: S3's ETag is the MD5 of the content for objects uploaded in one
// part without SSE-KMS or SSE-C; a multipart ETag ends in "-N".
func etagIsMD5(etag string, out *s3.GetObjectOutput) bool {
	if len(etag) != 32 || strings.Contains(etag, "-") || out.SSECustomerAlgorithm != nil {
		return false
	}
	switch out.ServerSideEncryption {
	case types.ServerSideEncryptionAwsKms, types.ServerSideEncryptionAwsKmsDsse:
		return false
	}
	_, err := hex.DecodeString(etag)
	return err == nil
}

var errStalled = errors.New("no data for too long")

// readFailure names a stall rather than the cancellation it caused.
func readFailure(err error, ctx context.Context) error {
	if errors.Is(context.Cause(ctx), errStalled) {
		return errStalled
	}
	return err
}

// stallReader cancels the attempt when its body has not moved for d.
type stallReader struct {
	r     io.Reader
	d     time.Duration
	timer *time.Timer
}

func newStallReader(r io.Reader, d time.Duration, cancel context.CancelCauseFunc) *stallReader {
	return &stallReader{r: r, d: d, timer: time.AfterFunc(d, func() { cancel(errStalled) })}
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.timer.Reset(s.d)
	}
	return n, err
}

func (s *stallReader) stop() { s.timer.Stop() }

// retryBody runs a listing call again when its response body broke (the SDK
// retries only failures before the body).
func (s *s3Source) retryBody(ctx context.Context, call func() error) error {
	for attempt := 1; ; attempt++ {
		err := call()
		if err == nil || !isDeserializeFailure(err) || attempt >= s.attempts || ctx.Err() != nil {
			return err
		}
		if err := sleep(ctx, s.backoff(attempt)); err != nil {
			return err
		}
	}
}

// retryBackoff is the wait before another attempt (tests shorten it).
var retryBackoff = backoff

// backoff is exponential with full jitter: 100 ms, 200 ms, 400 ms... capped at 2 s.
func backoff(attempt int) time.Duration {
	d := min(100*time.Millisecond<<(attempt-1), 2*time.Second)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
