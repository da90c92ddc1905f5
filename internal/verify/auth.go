package verify

import (
	"fmt"
	"io"

	ecr "github.com/awslabs/amazon-ecr-credential-helper/ecr-login"
	ecrapi "github.com/awslabs/amazon-ecr-credential-helper/ecr-login/api"
	"github.com/google/go-containerregistry/pkg/authn"
)

// Keychain is how the step finds registry credentials: for an ECR host the
// ecr-login library first (IRSA or the node's role, through the AWS SDK's
// default chain), then go-containerregistry's default keychain, which reads
// $DOCKER_CONFIG/config.json (the dockerconfig workspace) or ~/.docker.
// Nothing found means anonymous. Credentials are never logged; log receives
// ecr-login's own diagnostics (which AWS call failed, never a token).
func Keychain(log io.Writer) authn.Keychain {
	return keychainWith(ecr.NewECRHelper(ecr.WithLogger(log)), log)
}

func keychainWith(h authn.Helper, log io.Writer) authn.Keychain {
	return authn.NewMultiKeychain(ecrOnly{inner: authn.NewKeychainFromHelper(h), log: log}, authn.DefaultKeychain)
}

// ecrOnly consults the ECR helper for ECR registries only: elsewhere it
// would load AWS configuration and call STS for nothing.
type ecrOnly struct {
	inner authn.Keychain
	log   io.Writer
}

func (k ecrOnly) Resolve(r authn.Resource) (a authn.Authenticator, err error) {
	if !isECR(r.RegistryStr()) {
		return authn.Anonymous, nil
	}
	// ecr-login panics when the AWS configuration cannot be loaded (a broken
	// ~/.aws/config): fall back to the other keychains and say why.
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(k.log, "verify-image: ecr-login could not load the AWS configuration (%v); trying the docker config\n", p)
			a, err = authn.Anonymous, nil
		}
	}()
	return k.inner.Resolve(r)
}

func isECR(host string) bool {
	_, err := ecrapi.ExtractRegistry(host)
	return err == nil
}
