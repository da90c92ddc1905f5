package sns

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
)

// The Tekton Triggers interceptor protocol (triggers.tekton.dev/v1alpha1
// InterceptorRequest and InterceptorResponse), the fields this interceptor
// reads and writes.
type request struct {
	Body   string              `json:"body"`
	Header map[string][]string `json:"header"`
}

type response struct {
	Continue bool   `json:"continue"`
	Status   status `json:"status"`
}

type status struct {
	Code    int    `json:"code"`
	Message string `json:"message,omitempty"`
}

// gRPC status codes, as Triggers reports them.
const (
	codeOK              = 0
	codeInvalidArgument = 3
	codeUnavailable     = 14
	codeUnauthenticated = 16
)

const maxRequestBytes = 1 << 20

// Handler answers Triggers' interceptor calls: continue only for an SNS
// Notification whose signature checks out. Subscription confirmations are
// verified and then stopped (confirm the subscription from the SNS console);
// anything else stops with the reason, which the EventListener logs.
func Handler(v *Verifier, logger *log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST an InterceptorRequest", http.StatusMethodNotAllowed)
			return
		}
		var req request
		if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBytes)).Decode(&req); err != nil {
			http.Error(w, "not an InterceptorRequest: "+err.Error(), http.StatusBadRequest)
			return
		}
		resp := decide(r, v, req)
		if resp.Status.Code != codeOK {
			logger.Printf("sns-interceptor: stopped: %s", resp.Status.Message)
		} else {
			logger.Printf("sns-interceptor: passed: %s", resp.Status.Message)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
}

func decide(r *http.Request, v *Verifier, req request) response {
	stop := func(code int, format string, args ...any) response {
		return response{Status: status{Code: code, Message: fmt.Sprintf(format, args...)}}
	}
	var m Message
	if err := json.Unmarshal([]byte(req.Body), &m); err != nil {
		return stop(codeInvalidArgument, "body is not an SNS message: %v", err)
	}
	if h := header(req.Header, "X-Amz-Sns-Message-Type"); h != m.Type {
		return stop(codeInvalidArgument, "x-amz-sns-message-type %q does not match the message Type %q", h, m.Type)
	}
	if err := v.Verify(r.Context(), m); err != nil {
		if errors.Is(err, ErrInvalid) {
			return stop(codeUnauthenticated, "%v", err)
		}
		return stop(codeUnavailable, "%v", err)
	}
	if m.Type != "Notification" {
		return stop(codeInvalidArgument, "authentic %s for %s: not a build; confirm or drop the subscription from the SNS console", m.Type, m.TopicArn)
	}
	return response{Continue: true, Status: status{Code: codeOK, Message: fmt.Sprintf("signed notification %s of %s", m.MessageID, m.TopicArn)}}
}

func header(h map[string][]string, name string) string {
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}
