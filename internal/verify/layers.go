package verify

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// layerScan is what one streaming pass over a layer found. Memory stays
// bounded whatever the layer holds: the body flows through a fixed buffer,
// the decompressor and the tar reader; a candidate secret file is read up
// to maxSecretRead bytes and dropped, at most maxReportedSecrets findings
// are kept (the others counted), and only the top-most /etc/passwd is kept.
type layerScan struct {
	digest    v1.Hash
	read      int64     // compressed bytes read
	diffID    v1.Hash   // SHA-256 of the uncompressed tar, when hashed
	problem   string    // the content is wrong: digest, size, compression, tar
	walked    bool      // every tar entry was seen (the secrets scan is complete)
	findings  []Finding // the first maxReportedSecrets
	secrets   int       // all the findings
	passwd    []byte
	hasPasswd bool
}

type scanOptions struct {
	diffID  bool // hash the uncompressed stream (full mode)
	secrets bool // look for secret files
	jobs    int
	// retry streams a layer again when the connection broke mid-body.
	retry func(ctx context.Context, f func() error) error
	// abort stops the streams of the other layers (they read under the
	// image's context) once one layer could not be read.
	abort func()
}

const (
	maxPasswdRead   = 1 << 20 // a real /etc/passwd is a few KiB
	maxReportedPath = 1024    // tar names can be far longer; a report needs no more
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// scanLayers streams every layer once, jobs at a time. It returns an error
// only when the registry could not be read (after attempts); content
// problems land in each layerScan.
func scanLayers(ctx context.Context, layers []v1.Layer, o scanOptions, read *atomic.Int64) ([]layerScan, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	out := make([]layerScan, len(layers))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	top := -1 // the highest layer with /etc/passwd: the only one kept
	keepTopPasswd := func(i int) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case !out[i].hasPasswd:
		case i > top:
			if top >= 0 {
				out[top].passwd = nil
			}
			top = i
		default:
			out[i].passwd = nil
		}
	}
	for range min(max(1, o.jobs), len(layers)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				var s layerScan
				err := o.retry(ctx, func() (err error) {
					s, err = scanLayer(layers[i], o, read)
					return err
				})
				mu.Lock()
				out[i] = s
				mu.Unlock()
				keepTopPasswd(i)
				if err != nil {
					cancel(fmt.Errorf("reading layer %d (%s): %w", i, s.digest, err))
					if o.abort != nil {
						o.abort()
					}
				}
			}
		}()
	}
feed:
	for i := range layers {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// scanLayer is one pass: the compressed body (go-containerregistry checks
// its digest and size as it streams), decompressed, through the tar reader.
func scanLayer(l v1.Layer, o scanOptions, read *atomic.Int64) (layerScan, error) {
	var s layerScan
	var err error
	if s.digest, err = l.Digest(); err != nil {
		return s, err
	}
	rc, err := l.Compressed()
	if err != nil {
		if transient(err) || isNetwork(err) {
			return s, err
		}
		s.problem = fmt.Sprintf("cannot be read: %v", err)
		return s, nil
	}
	defer rc.Close()
	src := &sourceReader{r: rc, total: read}
	br := bufio.NewReaderSize(src, 256<<10)
	decodeErr := s.walk(br, o)
	// Read to the end even when the tar stopped early: the digest is only
	// checked at EOF, and a mismatch explains a broken stream better.
	_, _ = io.Copy(io.Discard, br)
	s.read = src.n
	switch {
	case src.err != nil && (transient(src.err) || isNetwork(src.err)):
		return s, src.err
	case src.err != nil:
		s.problem = fmt.Sprintf("the registry's bytes do not match the manifest (%v): its copy is corrupt or was replaced; push the image again", src.err)
	case decodeErr != nil:
		s.problem = fmt.Sprintf("not a valid layer: %v", decodeErr)
	}
	return s, nil
}

// walk decompresses and reads the tar, hashing it for the diff_id and
// looking at each entry.
func (s *layerScan) walk(br *bufio.Reader, o scanOptions) error {
	magic, _ := br.Peek(len(zstdMagic))
	var r io.Reader = br
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("not a gzip stream: %w", err)
		}
		defer gz.Close()
		r = gz
	case bytes.HasPrefix(magic, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return fmt.Errorf("not a zstd stream: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	var h hash.Hash
	if o.diffID {
		h = sha256.New()
		r = io.TeeReader(r, h)
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("not a valid tar: %w", err)
		}
		if err := s.entry(tr, hdr, o); err != nil {
			return err
		}
	}
	// The tar's end marker may be followed by padding the diff_id covers.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("decompressing: %w", err)
	}
	if h != nil {
		s.diffID = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	}
	s.walked = true
	return nil
}

func (s *layerScan) entry(tr *tar.Reader, hdr *tar.Header, o scanOptions) error {
	if hdr.Typeflag == tar.TypeReg && cleanTarPath(hdr.Name) == "etc/passwd" {
		b, err := io.ReadAll(io.LimitReader(tr, maxPasswdRead))
		if err != nil {
			return fmt.Errorf("reading etc/passwd: %w", err)
		}
		s.passwd, s.hasPasswd = b, true
		return nil
	}
	if !o.secrets {
		return nil
	}
	rule, p := candidate(hdr)
	if rule == nil {
		return nil
	}
	if rule.content != nil {
		b, err := io.ReadAll(io.LimitReader(tr, maxSecretRead))
		if err != nil {
			return fmt.Errorf("reading %q: %w", p, err)
		}
		if !rule.content(b) {
			return nil
		}
	}
	s.secrets++
	if len(s.findings) < maxReportedSecrets {
		s.findings = append(s.findings, Finding{Layer: s.digest.String(), Path: truncate(p, maxReportedPath), What: rule.what})
	}
	return nil
}

// sourceReader counts the compressed bytes and remembers the first error of
// the registry stream, so a network failure is told apart from bad content
// after the decompressor has wrapped it.
type sourceReader struct {
	r     io.Reader
	n     int64
	total *atomic.Int64
	err   error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if s.total != nil {
		s.total.Add(int64(n))
	}
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}
