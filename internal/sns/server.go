package sns

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"regexp"
	"time"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// Config is the sns-interceptor's environment.
type Config struct {
	Addr      string        `env:"LISTEN_ADDR, default=:8080"`
	CertHosts string        `env:"SNS_CERT_HOSTS"`          // regexp of signing-certificate hosts; empty: sns.<region>.amazonaws.com(.cn)
	Topics    []string      `env:"SNS_TOPIC_ARNS"`          // allowed topics; empty: any (set it)
	CAFile    string        `env:"SNS_CA_FILE"`             // PEM roots trusted besides the system's (tests)
	MaxAge    time.Duration `env:"SNS_MAX_AGE, default=1h"` // older messages are refused as replays; 0: no limit
}

// NewVerifier builds the Verifier cfg describes.
func NewVerifier(cfg Config) (*Verifier, error) {
	v := &Verifier{MaxAge: cfg.MaxAge, Topics: map[string]bool{}}
	if cfg.CertHosts != "" {
		re, err := regexp.Compile(cfg.CertHosts)
		if err != nil {
			return nil, step.ConfigError("SNS_CERT_HOSTS %q is not a regular expression: %v", cfg.CertHosts, err)
		}
		v.CertHosts = re
	}
	for _, t := range cfg.Topics {
		v.Topics[t] = true
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, step.ConfigError("SNS_CA_FILE: %v", err)
		}
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, step.ConfigError("SNS_CA_FILE %s holds no PEM certificate", cfg.CAFile)
		}
		v.Roots = roots
		// The certificate is fetched over TLS from a host these roots
		// vouch for too (a test server; AWS's hosts are in the system's).
		v.Client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	}
	return v, nil
}

// Main serves the interceptor until ctx ends (SIGTERM).
func Main(ctx context.Context) error {
	var cfg Config
	if err := step.LoadConfig(ctx, &cfg); err != nil {
		return err
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		return err
	}
	logger := log.New(os.Stderr, "", log.LstdFlags)
	srv := &http.Server{Addr: cfg.Addr, Handler: Handler(v, logger), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Printf("sns-interceptor: listening on %s (certificate hosts %s, %d allowed topics)", cfg.Addr, v.certHosts(), len(v.Topics))
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}
