//go:build integration && capsweep

package kaniko

import (
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/knative-lambda/lambda-builder/catalog/lint"
	kanikotest "github.com/knative-lambda/lambda-builder/tests/kaniko"
)

// TestCapabilitySweep builds the whole corpus once per capability of the
// allow-list with that capability removed; every case that breaks is a
// failure of this test, with its log. It produced the README's table:
//
//	make kaniko-capability-sweep [LBK_SWEEP="KILL SETFCAP"]
//
// Each capability's builds push to their own repositories: a cache layer
// built one capability short must not serve another run.
func TestCapabilitySweep(t *testing.T) {
	caps := strings.Fields(os.Getenv("LBK_SWEEP"))
	if len(caps) == 0 {
		for _, c := range lint.KanikoCapabilities {
			caps = append(caps, string(c))
		}
	}
	s := newSuite(t)
	cases, err := kanikotest.LoadCorpus(s.root)
	if err != nil {
		t.Fatal(err)
	}
	sem := make(chan struct{}, 2)
	for _, cp := range caps {
		t.Run(cp, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.Name, func(t *testing.T) {
					t.Parallel()
					sem <- struct{}{}
					defer func() { <-sem }()
					out := s.build(t, c, func(st *kanikotest.Step) {
						for i, e := range st.Env {
							if e.Name == "IMAGE" {
								st.Env[i].Value = strings.Replace(e.Value, "/corpus/", "/sweep-"+strings.ToLower(cp)+"/", 1)
							}
						}
						st.SecurityContext.Capabilities.Add = slices.DeleteFunc(slices.Clone(st.SecurityContext.Capabilities.Add),
							func(x corev1.Capability) bool { return string(x) == cp })
					})
					verify(t, c, out)
				})
			}
		})
	}
}
