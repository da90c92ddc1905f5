#!/usr/bin/env bash
# logs.sh [DIR] (make cluster-logs): collects the host components' logs, the
# state of every object Tekton and Triggers own, events, and every pod's logs
# into DIR (default $CLUSTER_DIR/collected/TIMESTAMP), for a failed test.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

collect_cluster_state() { # DIR
  local out=$1 kinds ns pod
  kinds=nodes,pods,services,endpointslices,deployments
  kubectl get "$kinds" --all-namespaces -o wide >"$out/overview.txt" 2>&1 || true
  kubectl get events --all-namespaces --sort-by=.lastTimestamp >"$out/events.txt" 2>&1 || true
  kubectl get taskruns,pipelineruns,eventlisteners --all-namespaces -o yaml >"$out/runs.yaml" 2>&1 || true
  kubectl describe pods --all-namespaces >"$out/pods-describe.txt" 2>&1 || true
  mkdir -p "$out/pods"
  kubectl get pods --all-namespaces -o jsonpath='{range .items[*]}{.metadata.namespace} {.metadata.name}{"\n"}{end}' 2>/dev/null |
    while read -r ns pod; do
      kubectl logs -n "$ns" "$pod" --all-containers --prefix --timestamps >"$out/pods/$ns.$pod.log" 2>&1 || true
    done
}

main() {
  local out=${1:-$CLUSTER_DIR/collected/$(date +%Y%m%d-%H%M%S)}
  mkdir -p "$out"
  if [ -d "$LOGS" ]; then cp -r "$LOGS" "$out/host"; fi
  if running apiserver && kubectl get --raw /readyz >/dev/null 2>&1; then
    collect_cluster_state "$out"
  else
    echo "API server not running: host component logs only" >"$out/overview.txt"
  fi
  echo "cluster logs collected in $out"
}

main "$@"
