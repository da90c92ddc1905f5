// Package sns checks Amazon SNS message signatures, for the sns-interceptor
// (a Tekton Triggers ClusterInterceptor): CEL cannot, and an unsigned SNS
// endpoint lets anyone who reaches it start builds.
//
// The check follows AWS's documented procedure: the signing certificate URL
// must be https on an allowed host (sns.<region>.amazonaws.com by default);
// the certificate must chain to a trusted root; the signature (RSA, SHA1 for
// SignatureVersion 1, SHA256 for 2) must match the canonical string of the
// message's fields; and the topic may be restricted to an allow-list.
package sns

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Message is an SNS HTTP(S) delivery: a Notification or a
// (Un)SubscriptionConfirmation.
type Message struct {
	Type             string
	MessageID        string `json:"MessageId"`
	Token            string `json:",omitempty"`
	TopicArn         string
	Subject          string `json:",omitempty"`
	Message          string
	Timestamp        string
	SignatureVersion string
	Signature        string
	SigningCertURL   string
	SubscribeURL     string `json:",omitempty"`
}

// DefaultCertHosts are the hosts AWS serves SNS signing certificates from.
var DefaultCertHosts = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// maxCertBytes bounds what is read from a certificate URL.
const maxCertBytes = 64 << 10

// Verifier checks messages. Certificates are fetched once per URL.
type Verifier struct {
	CertHosts *regexp.Regexp   // hosts a SigningCertURL may name; nil: DefaultCertHosts
	Topics    map[string]bool  // allowed TopicArns; empty: any
	Roots     *x509.CertPool   // trusted roots; nil: the system's
	Client    *http.Client     // fetches certificates; nil: a client with a 10 s timeout
	MaxAge    time.Duration    // refuse older messages (replays); 0: no limit
	Now       func() time.Time // for tests; nil: time.Now

	mu    sync.Mutex
	certs map[string]*x509.Certificate
}

// ErrInvalid wraps every reason a message is refused (as opposed to a
// certificate that could not be fetched).
var ErrInvalid = errors.New("invalid SNS message")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Verify returns nil when m is authentic and allowed.
func (v *Verifier) Verify(ctx context.Context, m Message) error {
	if len(v.Topics) > 0 && !v.Topics[m.TopicArn] {
		return invalid("topic %q is not an allowed topic", m.TopicArn)
	}
	if v.MaxAge > 0 {
		ts, err := time.Parse(time.RFC3339, m.Timestamp)
		if err != nil {
			return invalid("Timestamp %q is not RFC 3339", m.Timestamp)
		}
		if age := v.now().Sub(ts); age > v.MaxAge {
			return invalid("message is %s old, more than %s: a replay?", age.Round(time.Second), v.MaxAge)
		}
	}
	canonical, err := StringToSign(m)
	if err != nil {
		return err
	}
	var alg x509.SignatureAlgorithm
	switch m.SignatureVersion {
	case "1":
		alg = x509.SHA1WithRSA
	case "2":
		alg = x509.SHA256WithRSA
	default:
		return invalid("SignatureVersion %q is not 1 or 2", m.SignatureVersion)
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return invalid("Signature is not base64")
	}
	cert, err := v.cert(ctx, m.SigningCertURL)
	if err != nil {
		return err
	}
	if err := checkSignature(cert, alg, []byte(canonical), sig); err != nil {
		return invalid("signature does not match: %v", err)
	}
	return nil
}

// checkSignature is x509's check, with SHA-1 allowed: SNS SignatureVersion 1
// is RSA-SHA1 and Go refuses SHA-1 in Certificate.CheckSignature.
func checkSignature(cert *x509.Certificate, alg x509.SignatureAlgorithm, signed, sig []byte) error {
	if alg == x509.SHA1WithRSA {
		return checkSHA1(cert, signed, sig)
	}
	return cert.CheckSignature(alg, signed, sig)
}

// StringToSign is the canonical form AWS signs: "Name\nvalue\n" for the
// type's fields in byte order of their names (Subject only when present).
func StringToSign(m Message) (string, error) {
	type field struct{ name, value string }
	var fields []field
	switch m.Type {
	case "Notification":
		fields = []field{{"Message", m.Message}, {"MessageId", m.MessageID}}
		if m.Subject != "" {
			fields = append(fields, field{"Subject", m.Subject})
		}
		fields = append(fields, field{"Timestamp", m.Timestamp}, field{"TopicArn", m.TopicArn}, field{"Type", m.Type})
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		fields = []field{{"Message", m.Message}, {"MessageId", m.MessageID}, {"SubscribeURL", m.SubscribeURL},
			{"Timestamp", m.Timestamp}, {"Token", m.Token}, {"TopicArn", m.TopicArn}, {"Type", m.Type}}
	default:
		return "", invalid("Type %q is not an SNS message type", m.Type)
	}
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f.name + "\n" + f.value + "\n")
	}
	return b.String(), nil
}

func (v *Verifier) certHosts() *regexp.Regexp {
	if v.CertHosts == nil {
		return DefaultCertHosts
	}
	return v.CertHosts
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// cert returns the verified certificate at raw, fetching it the first time.
func (v *Verifier) cert(ctx context.Context, raw string) (*x509.Certificate, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || !strings.HasSuffix(u.Path, ".pem") {
		return nil, invalid("SigningCertURL %q is not an https URL of a .pem file", raw)
	}
	hosts := v.certHosts()
	if !hosts.MatchString(u.Hostname()) {
		return nil, invalid("SigningCertURL host %q is not an allowed SNS host (%s)", u.Hostname(), hosts)
	}
	v.mu.Lock()
	c, ok := v.certs[raw]
	v.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err = v.fetch(ctx, raw)
	if err != nil {
		return nil, err
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: v.Roots, CurrentTime: v.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, invalid("signing certificate of %s is not trusted: %v", raw, err)
	}
	v.mu.Lock()
	if v.certs == nil {
		v.certs = map[string]*x509.Certificate{}
	}
	v.certs[raw] = c
	v.mu.Unlock()
	return c, nil
}

func (v *Verifier) fetch(ctx context.Context, raw string) (*x509.Certificate, error) {
	client := v.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the signing certificate: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the signing certificate %s: HTTP %d", raw, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxCertBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the signing certificate: %w", err)
	}
	if len(b) > maxCertBytes {
		return nil, invalid("signing certificate at %s is over %d bytes", raw, maxCertBytes)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, invalid("%s holds no PEM certificate", raw)
	}
	return x509.ParseCertificate(block.Bytes)
}
