// Package snstest makes what tests of SNS signature checking need: a test CA,
// a signing certificate it issued (as AWS's SNS one), TLS certificates for
// the server that hands the signing certificate out, and SNS signatures.
package snstest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SNS SignatureVersion 1 is RSA-SHA1
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"time"
)

// PKI is a CA and the SNS-like signing certificate it issued.
type PKI struct {
	CA      *x509.Certificate
	CAPEM   []byte
	caKey   *rsa.PrivateKey
	key     *rsa.PrivateKey
	CertPEM []byte // the signing certificate, as SNS serves it
}

// New makes a PKI valid for an hour around now.
func New() (*PKI, error) {
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lambda-builder test SNS CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	p := &PKI{CA: ca, CAPEM: pemCert(caDER), caKey: caKey}
	if p.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	der, err := p.issue(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		KeyUsage: x509.KeyUsageDigitalSignature}, &p.key.PublicKey)
	if err != nil {
		return nil, err
	}
	p.CertPEM = pemCert(der)
	return p, nil
}

func (p *PKI) issue(tmpl *x509.Certificate, pub any) ([]byte, error) {
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	return x509.CreateCertificate(rand.Reader, tmpl, p.CA, pub, p.caKey)
}

// Roots is a pool holding only the CA.
func (p *PKI) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA)
	return pool
}

// ServerCert is a TLS certificate for ip, issued by the CA, PEM encoded.
func (p *PKI) ServerCert(ip net.IP) (certPEM, keyPEM []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	der, err := p.issue(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: ip.String()},
		IPAddresses: []net.IP{ip}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, &key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	return pemCert(der), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), nil
}

// TLSConfig serves ServerCert(ip).
func (p *PKI) TLSConfig(ip net.IP) (*tls.Config, error) {
	c, k, err := p.ServerCert(ip)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(c, k)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// Sign returns the base64 signature SNS would send for stringToSign
// (sns.StringToSign of a message) with SignatureVersion version ("1": SHA1,
// otherwise SHA256).
func (p *PKI) Sign(version, stringToSign string) (string, error) {
	var sig []byte
	var err error
	if version == "1" {
		sum := sha1.Sum([]byte(stringToSign))
		sig, err = rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA1, sum[:])
	} else {
		sum := sha256.Sum256([]byte(stringToSign))
		sig, err = rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA256, sum[:])
	}
	return base64.StdEncoding.EncodeToString(sig), err
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
