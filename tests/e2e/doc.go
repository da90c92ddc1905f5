// Package e2e holds the end-to-end tests (build tag e2e): they run against
// the local cluster of tests/cluster (`make e2e` starts it if needed) and
// read where it is from the environment cluster-up writes to
// $CLUSTER_DIR/e2e.env: LB_KUBECONFIG, LB_REGISTRY, LB_BUSYBOX_IMAGE.
package e2e
