package sns

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SNS SignatureVersion 1 is RSA-SHA1 by definition
	"crypto/x509"
	"errors"
)

// checkSHA1 verifies an RSA PKCS#1 v1.5 SHA-1 signature with cert's key.
func checkSHA1(cert *x509.Certificate, signed, sig []byte) error {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return errors.New("the certificate's key is not RSA")
	}
	sum := sha1.Sum(signed)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA1, sum[:], sig)
}
