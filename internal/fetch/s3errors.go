package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// Exit reasons of S3 refusals.
const (
	ReasonNoSuchBucket  = "NoSuchBucket"
	ReasonNoSuchKey     = "NoSuchKey"
	ReasonAccessDenied  = "AccessDenied"
	ReasonNoCredentials = "NoCredentials"
	ReasonWrongRegion   = "WrongRegion"
	ReasonSourceChanged = "SourceChanged"
)

const credentialsHint = "check the credentials: the service account's IRSA role (annotation eks.amazonaws.com/role-arn) needs s3:ListBucket and s3:GetObject on the bucket, or bind the aws-credentials workspace to a Secret with valid keys"

// classify turns an S3 failure into the one-line error a user can act on.
// what says what was being done ("listing s3://b/p/").
func (s *s3Source) classify(err error, what string) error {
	var se *step.Error
	if errors.As(err, &se) || errors.Is(err, context.Canceled) {
		return err
	}
	var be *bodyError
	if errors.As(err, &be) && be.integrity {
		return step.Errorf(step.CodeUnavailable, ReasonChecksumMismatch, "%s: the data does not match the object: %v; the store or the network corrupts data", what, be.err)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg := ae.ErrorCode(), ae.ErrorMessage()
		detail := code
		if msg != "" {
			detail += ": " + msg
		}
		switch code {
		case "NoSuchBucket":
			return step.Errorf(step.CodeInput, ReasonNoSuchBucket, "%s: bucket %q does not exist; check SOURCE (and S3_ENDPOINT, AWS_REGION)", what, s.ref.Bucket)
		case "NoSuchKey", "NoSuchVersion", "NotFound":
			return step.Errorf(step.CodeInput, ReasonNoSuchKey, "%s: no such object (%s); check SOURCE", what, code)
		case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
			"TokenRefreshRequired", "AllAccessDisabled", "AccountProblem", "InvalidClientTokenId", "Forbidden":
			return step.Errorf(step.CodeUnavailable, ReasonAccessDenied, "%s: access denied (%s); %s", what, detail, credentialsHint)
		case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
			return step.Errorf(step.CodeConfig, ReasonWrongRegion, "%s: the bucket is in another region (%s); set AWS_REGION to the bucket's region%s", what, detail, regionHint(err))
		case "PreconditionFailed":
			return step.Errorf(step.CodeUnavailable, ReasonSourceChanged, "%s: the object changed while it was fetched; run the fetch again once uploads are done", what)
		case "InvalidObjectState":
			return step.Errorf(step.CodeInput, "ArchivedObject", "%s: the object is in an archive storage class (Glacier); restore it first", what)
		}
		return step.UnavailableError("%s: %s%s", what, detail, statusSuffix(err))
	}
	if strings.Contains(err.Error(), "get credentials") || strings.Contains(err.Error(), "failed to refresh cached credentials") {
		return step.Errorf(step.CodeConfig, ReasonNoCredentials, "%s: no AWS credentials found; %s", what, credentialsHint)
	}
	if status := httpStatus(err); status == http.StatusForbidden {
		return step.Errorf(step.CodeUnavailable, ReasonAccessDenied, "%s: access denied (HTTP 403); %s", what, credentialsHint)
	}
	return step.UnavailableError("%s: %v", what, rootCause(err))
}

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func statusSuffix(err error) string {
	if s := httpStatus(err); s != 0 {
		return fmt.Sprintf(" (HTTP %d)", s)
	}
	return ""
}

// regionHint names the bucket's region when S3 says it (x-amz-bucket-region).
func regionHint(err error) string {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		if r := re.Response.Header.Get("X-Amz-Bucket-Region"); r != "" {
			return " (" + r + ")"
		}
	}
	return ""
}

// rootCause drops the SDK's "operation error S3: GetObject, https response
// error StatusCode: 0, RequestID: , HostID: ," prefix chain down to what
// actually happened, keeping the message on one readable line.
func rootCause(err error) error {
	var oe *smithy.OperationError
	if errors.As(err, &oe) && oe.Err != nil {
		inner := oe.Err
		var re *smithyhttp.ResponseError
		if errors.As(inner, &re) && re.Err != nil {
			inner = re.Err
		}
		return inner
	}
	return err
}

// isDeserializeFailure is a response whose body broke while the SDK parsed
// it (a listing page cut mid-transfer).
func isDeserializeFailure(err error) bool {
	var de *smithy.DeserializationError
	return errors.As(err, &de)
}
