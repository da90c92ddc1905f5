//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"

	tekton "github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// cluster is the running local cluster and clients for it.
type cluster struct {
	config   *rest.Config
	kube     kubernetes.Interface
	tekton   tekton.Interface
	dynamic  dynamic.Interface
	mapper   meta.ResettableRESTMapper
	registry string // host:port, plain http, the same name from the host and from pods
	busybox  string // busybox image by digest in registry
}

var c *cluster

func TestMain(m *testing.M) {
	var err error
	if c, err = connect(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func connect(ctx context.Context) (*cluster, error) {
	env := map[string]string{}
	for _, k := range []string{"LB_KUBECONFIG", "LB_REGISTRY", "LB_BUSYBOX_IMAGE"} {
		if env[k] = os.Getenv(k); env[k] == "" {
			return nil, fmt.Errorf("%s is not set: run `make e2e`, or `make cluster-up` then `set -a; . $CLUSTER_DIR/e2e.env`", k)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", env["LB_KUBECONFIG"])
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", env["LB_KUBECONFIG"], err)
	}
	cl := &cluster{config: cfg, registry: env["LB_REGISTRY"], busybox: env["LB_BUSYBOX_IMAGE"]}
	if cl.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if cl.tekton, err = tekton.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if cl.dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	cl.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	if _, err := cl.kube.Discovery().ServerVersion(); err != nil {
		return nil, fmt.Errorf("the cluster of %s does not answer (make cluster-status): %w", env["LB_KUBECONFIG"], err)
	}
	return cl, nil
}
