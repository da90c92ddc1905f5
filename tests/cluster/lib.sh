# Shared helpers of the tests/cluster scripts (sourced, not run).
# shellcheck shell=bash disable=SC2034 # its variables are used by the scripts sourcing it

CLUSTER_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=cluster.env
source "$CLUSTER_SRC/cluster.env"

PIDS=$CLUSTER_DIR/pids
LOGS=$CLUSTER_DIR/logs
PKI=$CLUSTER_DIR/pki
RUN=$CLUSTER_DIR/run      # rendered configs, image references, sockets, helper binaries
K8S_BIN=$LB_TOOLS_DIR/kubernetes-$KUBERNETES_VERSION
PIPELINE_DIR=$LB_TOOLS_DIR/tekton-pipeline-$TEKTON_PIPELINE_VERSION
TRIGGERS_DIR=$LB_TOOLS_DIR/tekton-triggers-$TEKTON_TRIGGERS_VERSION

T0=${T0:-$(date +%s)}
log() { printf '[%4ss] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }
die() { printf 'cluster: %s\n' "$*" >&2; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "$1 needs root (network namespaces, mounts, iptables, cgroups)"; }

# default_node_name: the host name when it resolves to a loopback address (the
# API server reaches the kubelet by node name), else localhost.
default_node_name() {
  local h
  h=$(hostname)
  case $(getent ahostsv4 "$h" 2>/dev/null | awk 'NR == 1 {print $1}') in
    127.*) echo "$h" ;;
    *) echo localhost ;;
  esac
}
NODE_NAME=${NODE_NAME:-$(default_node_name)}

# render TEMPLATE OUT: copy TEMPLATE replacing ${VAR} by the variable's value;
# an unset variable is an error (no silent empty strings in configs).
render() {
  mkdir -p "$(dirname "$2")"
  export_settings
  TEMPLATE=$1 perl -pe 's/\$\{(\w+)\}/defined $ENV{$1} ? $ENV{$1} : die "undefined \${$1} in $ENV{TEMPLATE}\n"/ge' "$1" >"$2.tmp" || {
    rm -f "$2.tmp"
    die "cannot render $1"
  }
  mv "$2.tmp" "$2"
}

# export_settings exports every variable of cluster.env plus the derived ones,
# for render and the helper programs.
export_settings() {
  local v
  for v in $(grep -oE '^[A-Z_]+=' "$CLUSTER_SRC/cluster.env" | tr -d =); do export "${v?}"; done
  export NODE_NAME PIDS LOGS PKI RUN K8S_BIN CLUSTER_SRC
}

kubectl() { "$K8S_BIN/kubectl" --kubeconfig "$CLUSTER_KUBECONFIG" "$@"; }

# GIVE_UP is the exit code a wait_for command returns when waiting longer
# cannot help (a failed TaskRun).
GIVE_UP=125

# wait_for DESCRIPTION COMMAND...: retry COMMAND every second until it
# succeeds, returns GIVE_UP, or UP_TIMEOUT passes; on failure print its last
# output.
wait_for() {
  local what=$1 deadline=$(($(date +%s) + UP_TIMEOUT)) out rc
  shift
  while :; do
    rc=0
    out=$("$@" 2>&1) || rc=$?
    [ "$rc" -eq 0 ] && return 0
    if [ "$rc" -eq "$GIVE_UP" ]; then
      printf 'cluster: %s failed:\n%s\n' "$what" "$out" >&2
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      printf 'cluster: timed out after %ss waiting for %s; last output:\n%s\n' "$UP_TIMEOUT" "$what" "$out" >&2
      return 1
    fi
    sleep 1
  done
}

# --- Processes. Each component runs in its own session (setsid), so its PID is
# also its process group; the PID file holds "PID STARTTIME" so a recycled PID
# is never mistaken for ours.

# proc_start_time PID: the process's start time (clock ticks after boot), or
# nothing if it is gone or a zombie (dead, waiting for its parent to reap it).
proc_start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  # shellcheck disable=SC2086 # split on purpose
  set -- ${stat##*) } # fields after "(comm) ": state is 1st, starttime 20th
  [ "$1" = Z ] || echo "${20}"
}

# start NAME COMMAND...: run COMMAND in the background, logs to $LOGS/NAME.log.
start() {
  local name=$1 pid
  shift
  mkdir -p "$PIDS" "$LOGS"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid $(proc_start_time "$pid")" >"$PIDS/$name"
}

# running NAME: true when the process of PID file NAME is alive and still ours.
running() {
  local pid st
  [ -f "$PIDS/$1" ] || return 1
  read -r pid st <"$PIDS/$1"
  [ -n "$pid" ] && [ "$(proc_start_time "$pid")" = "$st" ]
}

# stop NAME: SIGTERM its process group, SIGKILL after STOP_TIMEOUT.
stop() {
  local name=$1 pid st i
  [ -f "$PIDS/$name" ] || return 0
  if running "$name"; then
    read -r pid st <"$PIDS/$name"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
      running "$name" || break
      sleep 0.2
    done
    if running "$name"; then
      log "$name did not stop in ${STOP_TIMEOUT}s: SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PIDS/$name"
}

# COMPONENTS are the host processes of a running cluster, in start order.
COMPONENTS=(registry s3 api-forward-host api-forward-ns etcd containerd apiserver controller-manager scheduler kubelet kube-proxy)
# NAMESPACES hold the in-cluster components (Deployments).
NAMESPACES=(kube-system tekton-pipelines tekton-pipelines-resolvers)

# healthy: every component runs, the API server is ready, the node is Ready
# and every Deployment of NAMESPACES is Available.
healthy() {
  local c ns
  for c in "${COMPONENTS[@]}"; do running "$c" || return 1; done
  kubectl get --raw /readyz >/dev/null 2>&1 || return 1
  [ "$(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] || return 1
  for ns in "${NAMESPACES[@]}"; do
    [ -n "$(kubectl get deployment -n "$ns" -o name 2>/dev/null)" ] || return 1
    kubectl wait --for=condition=Available deployment --all -n "$ns" --timeout=1s >/dev/null 2>&1 || return 1
  done
}

# in_services_netns COMMAND...: run COMMAND inside the services namespace.
in_services_netns() { ip netns exec "$SERVICES_NETNS" "$@"; }

# cgroup_dirs: our cgroup root in every mounted v1 hierarchy (or the v2 root).
cgroup_dirs() {
  awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/mounts | while read -r m; do echo "$m/$CGROUP_ROOT"; done
}
