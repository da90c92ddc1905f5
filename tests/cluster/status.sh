#!/usr/bin/env bash
# status.sh (make cluster-status): what runs, where, and whether the cluster
# is healthy (exit 0) or not (exit 1).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  local c pid
  echo "cluster dir  $CLUSTER_DIR"
  for c in "${COMPONENTS[@]}"; do
    if running "$c"; then
      read -r pid _ <"$PIDS/$c"
      printf '  %-18s running  PID %-7s RSS %s MiB\n' "$c" "$pid" "$(($(awk '/VmRSS/ {print $2}' "/proc/$pid/status") / 1024))"
    else
      printf '  %-18s stopped\n' "$c"
    fi
  done
  if running apiserver && kubectl get --raw /readyz >/dev/null 2>&1; then
    kubectl get nodes -o wide
    kubectl get pods --all-namespaces -o wide
  fi
  if healthy; then
    echo "healthy: kubeconfig $CLUSTER_KUBECONFIG, registry $REGISTRY, logs $LOGS"
  else
    echo "not healthy (make cluster-up starts or replaces it; make cluster-logs collects logs)"
    return 1
  fi
}

main "$@"
