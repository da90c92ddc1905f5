package sns

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/knative-lambda/lambda-builder/internal/sns/snstest"
)

// newPKI is a test CA and signing certificate; sign signs like SNS.
type testPKI struct{ p *snstest.PKI }

func newPKI(t *testing.T) testPKI {
	t.Helper()
	p, err := snstest.New()
	if err != nil {
		t.Fatal(err)
	}
	return testPKI{p: p}
}

func (p testPKI) roots() *x509.CertPool { return p.p.Roots() }
func (p testPKI) certPEM() []byte       { return p.p.CertPEM }

func (p testPKI) sign(t *testing.T, m Message) Message {
	t.Helper()
	s, err := StringToSign(m)
	if err != nil {
		t.Fatal(err)
	}
	if m.Signature, err = p.p.Sign(m.SignatureVersion, s); err != nil {
		t.Fatal(err)
	}
	return m
}

const topic = "arn:aws:sns:us-east-1:123456789012:functions"

// certServer serves the signing certificate over TLS and counts fetches.
func certServer(t *testing.T, pemBytes []byte) (*httptest.Server, *int) {
	fetches := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches++
		w.Write(pemBytes)
	}))
	t.Cleanup(srv.Close)
	return srv, &fetches
}

func notification(certURL, version string) Message {
	return Message{Type: "Notification", MessageID: "m-1", TopicArn: topic, Message: `{"Records":[]}`,
		Timestamp: time.Now().UTC().Format(time.RFC3339), SignatureVersion: version, SigningCertURL: certURL}
}

func TestVerify(t *testing.T) {
	pki := newPKI(t)
	srv, fetches := certServer(t, pki.certPEM())
	certURL := srv.URL + "/SimpleNotificationService-test.pem"
	newVerifier := func() *Verifier {
		return &Verifier{CertHosts: regexp.MustCompile(`^127\.0\.0\.1$`), Roots: pki.roots(), Client: srv.Client(),
			Topics: map[string]bool{topic: true}, MaxAge: time.Hour}
	}
	other := newPKI(t) // a CA nobody trusts
	otherSrv, _ := certServer(t, other.certPEM())

	tests := []struct {
		name string
		msg  func() Message
		want string // "" = valid
	}{
		{"version 1 (SHA1)", func() Message { return pki.sign(t, notification(certURL, "1")) }, ""},
		{"version 2 (SHA256)", func() Message { return pki.sign(t, notification(certURL, "2")) }, ""},
		{"with a subject", func() Message { m := notification(certURL, "2"); m.Subject = "s3 event"; return pki.sign(t, m) }, ""},
		{"subscription confirmation", func() Message {
			m := Message{Type: "SubscriptionConfirmation", MessageID: "m-2", Token: "tok", TopicArn: topic, Message: "confirm",
				SubscribeURL: "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription", Timestamp: time.Now().UTC().Format(time.RFC3339),
				SignatureVersion: "2", SigningCertURL: certURL}
			return pki.sign(t, m)
		}, ""},
		{"message changed after signing", func() Message {
			m := pki.sign(t, notification(certURL, "2"))
			m.Message = `{"Records":[{"s3":{"object":{"key":"other"}}}]}`
			return m
		}, "signature does not match"},
		{"subject added after signing", func() Message { m := pki.sign(t, notification(certURL, "2")); m.Subject = "x"; return m }, "signature does not match"},
		{"another topic", func() Message { m := notification(certURL, "2"); m.TopicArn += "-other"; return pki.sign(t, m) }, "not an allowed topic"},
		{"certificate over http", func() Message {
			return pki.sign(t, notification(strings.Replace(certURL, "https:", "http:", 1), "2"))
		}, "not an https URL"},
		{"certificate on another host", func() Message {
			return pki.sign(t, notification("https://evil.example/SimpleNotificationService-x.pem", "2"))
		}, "not an allowed SNS host"},
		{"certificate not a .pem", func() Message { return pki.sign(t, notification(srv.URL+"/cert", "2")) }, "not an https URL of a .pem"},
		{"certificate from an untrusted CA", func() Message {
			return other.sign(t, notification(otherSrv.URL+"/SimpleNotificationService-x.pem", "2"))
		}, "not trusted"},
		{"unknown signature version", func() Message { return pki.sign(t, notification(certURL, "3")) }, "SignatureVersion"},
		{"signature not base64", func() Message { m := notification(certURL, "2"); m.Signature = "%%%"; return m }, "not base64"},
		{"replayed (too old)", func() Message {
			m := notification(certURL, "2")
			m.Timestamp = time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)
			return pki.sign(t, m)
		}, "replay"},
		{"unknown type", func() Message { m := notification(certURL, "2"); m.Type = "Other"; return m }, "not an SNS message type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// (httptest TLS servers share one certificate: srv's client reaches otherSrv too.)
			err := newVerifier().Verify(context.Background(), tt.msg())
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused a valid message: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalid)):
				t.Fatalf("err = %v, want an ErrInvalid containing %q", err, tt.want)
			}
		})
	}

	// One fetch per certificate URL.
	v := newVerifier()
	before := *fetches
	for range 3 {
		if err := v.Verify(context.Background(), pki.sign(t, notification(certURL, "2"))); err != nil {
			t.Fatal(err)
		}
	}
	if got := *fetches - before; got != 1 {
		t.Errorf("fetched the certificate %d times for 3 messages, want 1", got)
	}
}

func TestHandler(t *testing.T) {
	pki := newPKI(t)
	srv, _ := certServer(t, pki.certPEM())
	certURL := srv.URL + "/SimpleNotificationService-test.pem"
	v := &Verifier{CertHosts: regexp.MustCompile(`^127\.0\.0\.1$`), Roots: pki.roots(), Client: srv.Client()}
	h := Handler(v, log.New(io.Discard, "", 0))
	good := pki.sign(t, notification(certURL, "2"))
	forged := good
	forged.Message = `{"Records":["forged"]}`
	confirm := pki.sign(t, Message{Type: "SubscriptionConfirmation", MessageID: "m", Token: "t", TopicArn: topic, Message: "c",
		SubscribeURL: "https://sns.us-east-1.amazonaws.com/confirm", Timestamp: time.Now().UTC().Format(time.RFC3339), SignatureVersion: "2", SigningCertURL: certURL})
	tests := []struct {
		name   string
		msg    Message
		header string
		cont   bool
		code   int
	}{
		{"signed notification", good, "Notification", true, codeOK},
		{"forged notification", forged, "Notification", false, codeUnauthenticated},
		{"header and type disagree", good, "SubscriptionConfirmation", false, codeInvalidArgument},
		{"subscription confirmation", confirm, "SubscriptionConfirmation", false, codeInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := json.Marshal(tt.msg)
			req, _ := json.Marshal(map[string]any{"body": string(body), "header": map[string][]string{"X-Amz-Sns-Message-Type": {tt.header}}})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(req)))
			var resp response
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatalf("answer %q: %v", rec.Body, err)
			}
			if resp.Continue != tt.cont || resp.Status.Code != tt.code {
				t.Errorf("answer %+v, want continue=%v code=%d", resp, tt.cont, tt.code)
			}
		})
	}
}

func TestNewVerifier(t *testing.T) {
	dir := t.TempDir()
	notPEM := dir + "/not.pem"
	os.WriteFile(notPEM, []byte("hello"), 0o644)
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"defaults", Config{}, ""},
		{"hosts not a regexp", Config{CertHosts: "("}, "SNS_CERT_HOSTS"},
		{"CA file missing", Config{CAFile: dir + "/nope.pem"}, "SNS_CA_FILE"},
		{"CA file without a certificate", Config{CAFile: notPEM}, "holds no PEM certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.cfg)
			switch {
			case tt.want == "" && (err != nil || v.certHosts() != DefaultCertHosts):
				t.Errorf("NewVerifier(%+v) = %v, %v", tt.cfg, v, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestNewVerifierTrustsTheCAFile: with SNS_CA_FILE, the certificate's
// server may also be vouched for by that CA (the e2e's https server).
func TestNewVerifierTrustsTheCAFile(t *testing.T) {
	pki := newPKI(t)
	tlsConfig, err := pki.p.TLSConfig(net.ParseIP("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(pki.certPEM()) }))
	srv.TLS = tlsConfig
	srv.StartTLS()
	defer srv.Close()
	caFile := t.TempDir() + "/ca.pem"
	os.WriteFile(caFile, pki.p.CAPEM, 0o644)
	v, err := NewVerifier(Config{CAFile: caFile, CertHosts: `^127\.0\.0\.1$`})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(context.Background(), pki.sign(t, notification(srv.URL+"/SimpleNotificationService-x.pem", "2"))); err != nil {
		t.Fatal(err)
	}
}
