#!/usr/bin/env bash
# down.sh (make cluster-down): stops the local cluster and removes what
# cluster-up made on the host: processes (by PID file), pod containers,
# mounts, the services netns, veths, the bridge, iptables chains (kube-proxy's
# and ours), cgroups, the Service route, changed sysctls. Then it checks for
# leftovers and exits non-zero if it finds any. Safe on a crashed or partial
# cluster, and a no-op when nothing runs.
#   down.sh [--quiet]   --quiet: print only problems (used by cluster-up)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

QUIET=false
CONTAINERD_SOCK=$CLUSTER_DIR/containerd/containerd.sock

say() { $QUIET || log "$@"; }

# delete_pods lets the kubelet stop every pod the normal way (CNI teardown
# included) while the API server runs; controllers are stopped first so
# nothing is recreated.
delete_pods() {
  running apiserver && running kubelet || return 0
  kubectl get --raw /readyz >/dev/null 2>&1 || return 0
  say "deleting pods"
  timeout 60 "$K8S_BIN/kubectl" --kubeconfig "$CLUSTER_KUBECONFIG" delete pods --all --all-namespaces \
    --grace-period=1 --wait=true >/dev/null 2>&1 || say "some pods did not stop in 60s; killing their containers"
}

# kill_containers removes whatever containers remain, through containerd,
# then kills any process still in our cgroups.
kill_containers() {
  if running containerd && [ -S "$CONTAINERD_SOCK" ]; then
    local ctr=(ctr --address "$CONTAINERD_SOCK") ns t c
    for ns in $("${ctr[@]}" namespaces ls -q 2>/dev/null); do
      for t in $("${ctr[@]}" -n "$ns" tasks ls -q 2>/dev/null); do
        "${ctr[@]}" -n "$ns" tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
        "${ctr[@]}" -n "$ns" tasks delete -f "$t" >/dev/null 2>&1 || true
      done
      for c in $("${ctr[@]}" -n "$ns" containers ls -q 2>/dev/null); do
        "${ctr[@]}" -n "$ns" containers delete "$c" >/dev/null 2>&1 || true
      done
    done
  fi
  local pid
  for pid in $(cgroup_pids); do kill -KILL "$pid" 2>/dev/null || true; done
}

cgroup_pids() {
  local d
  for d in $(cgroup_dirs); do
    [ -d "$d" ] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -un
}

# stray_pids: processes whose command line names our containerd socket or
# rendered configs (containerd's shims, a component that lost its PID file);
# they are ours by construction.
stray_pids() {
  grep -lasE -- "$CLUSTER_DIR/(containerd|run)/" /proc/[0-9]*/cmdline | cut -d/ -f3 | grep -vx "$$" || true
}

stop_processes() {
  local c i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    c=${COMPONENTS[i]}
    case $c in
      containerd) kill_containers ;;
    esac
    if [ -f "$PIDS/$c" ]; then say "stopping $c"; fi
    stop "$c"
  done
  local pid
  for pid in $(stray_pids); do
    say "killing stray process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120)"
    kill -KILL "$pid" 2>/dev/null || true
  done
}

# our_mounts: mount points under CLUSTER_DIR and the services netns, deepest
# first (/proc/mounts escapes spaces as \040).
our_mounts() {
  awk '{print $2}' /proc/mounts | grep -E "^($CLUSTER_DIR/|/run/netns/$SERVICES_NETNS\$)" | sort -r || true
}

unmount_all() {
  local m
  for m in $(our_mounts); do
    m=$(printf '%b' "$m")
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}

remove_cgroups() {
  local d
  for d in $(cgroup_dirs); do
    if [ -d "$d" ]; then find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true; fi
  done
}

# remove_chain IPTABLES TABLE CHAIN [FROM...]: drops the jumps from the FROM
# chains, then the chain.
remove_chain() {
  local ipt=$1 table=$2 chain=$3 from
  shift 3
  for from in "$@"; do
    while "$ipt" -w -t "$table" -D "$from" -j "$chain" 2>/dev/null; do :; done
  done
  if "$ipt" -w -t "$table" -L "$chain" -n >/dev/null 2>&1; then
    "$ipt" -w -t "$table" -F "$chain" && "$ipt" -w -t "$table" -X "$chain"
  fi
}

remove_network() {
  # (grep -q would end the pipe early: with pipefail the test could fail.)
  # shellcheck disable=SC2143
  if [ -x "$K8S_BIN/kube-proxy" ] && [ -n "$({ iptables-save; ip6tables-save; } 2>/dev/null | grep '^:KUBE-')" ]; then
    say "removing kube-proxy's iptables rules"
    "$K8S_BIN/kube-proxy" --cleanup >>"$LOGS/kube-proxy-cleanup.log" 2>&1 || true
  fi
  # kube-proxy --cleanup keeps KUBE-FIREWALL (a copy of the kubelet's
  # anti-martian chain, INPUT and OUTPUT jump to it) and the kubelet's chains.
  local ipt table
  for ipt in iptables ip6tables; do
    remove_chain "$ipt" filter KUBE-FIREWALL INPUT OUTPUT
    for table in filter nat mangle; do
      remove_chain "$ipt" "$table" KUBE-KUBELET-CANARY
      remove_chain "$ipt" "$table" KUBE-IPTABLES-HINT
    done
  done
  remove_chain iptables filter "$FORWARD_CHAIN" FORWARD
  ip route del "$SERVICE_CIDR" dev "$CNI_BRIDGE" 2>/dev/null || true
  local veth
  for veth in $(ip -o link show master "$CNI_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "$veth" 2>/dev/null || true
  done
  ip link del "$CNI_BRIDGE" 2>/dev/null || true
  ip link del "$SERVICES_VETH_HOST" 2>/dev/null || true
  ip netns del "$SERVICES_NETNS" 2>/dev/null || true
}

restore_host_state() {
  local state=$CLUSTER_DIR/host-state s v d
  if [ -f "$state/sysctls" ]; then
    while read -r s v; do
      [ "$(cat "/proc/sys/$s")" = "$v" ] || echo "$v" >"/proc/sys/$s"
    done <"$state/sysctls"
    rm -f "$state/sysctls"
  fi
  if [ -f "$state/absent-dirs" ]; then
    local left=false
    while read -r d; do
      # `ip netns add` makes /run/netns a bind mount of itself (shared
      # propagation) the first time: a folder we created may be mounted.
      if mountpoint -q "$d" 2>/dev/null; then umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null || true; fi
      if [ -d "$d" ]; then find "$d" -depth -type d -empty -delete 2>/dev/null || true; fi
      if [ -e "$d" ]; then left=true; fi
    done <"$state/absent-dirs"
    # Kept while a folder remains, so the leftover check reports it.
    $left || rm -f "$state/absent-dirs"
  fi
}

# remove_runtime_leftovers removes what containerd's shims and the CNI
# plugins keep outside CLUSTER_DIR (fixed paths in containerd 1.6) and only
# clean up on an orderly stop: shim sockets in /run/containerd/s, named by
# sha256(containerd socket/namespace/id), runc state, and CNI result caches,
# all by the ids of our sandboxes and containers.
remove_runtime_leftovers() {
  local task ns id
  for task in "$CLUSTER_DIR"/containerd/state/io.containerd.runtime.v2.task/*/*; do
    [ -d "$task" ] || continue
    id=${task##*/}
    ns=${task%/*}
    ns=${ns##*/}
    rm -f "/run/containerd/s/$(printf '%s' "$CONTAINERD_SOCK/$ns/$id" | sha256sum | cut -c1-64)"
    rm -rf "/run/containerd/runc/$ns/$id"
    rm -f /var/lib/cni/results/*-"$id"-* # our network's and containerd's loopback's
  done
}

# remove_log_links: the kubelet links every container's log from
# /var/log/containers (not configurable) and removes the link with the
# container; containers killed through containerd leave theirs.
remove_log_links() {
  local l
  for l in /var/log/containers/*.log; do
    [ -L "$l" ] || continue
    case $(readlink "$l") in "$CLUSTER_DIR"/*) rm -f "$l" ;; esac
  done
}

# leftovers prints one line per thing cluster-up made that still exists.
leftovers() {
  local c pid d s v m
  for c in "${COMPONENTS[@]}"; do
    if running "$c"; then echo "process: $c (PID $(cut -d' ' -f1 "$PIDS/$c"))"; fi
  done
  for pid in $(stray_pids) $(cgroup_pids); do
    echo "process: $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120)"
  done
  for m in $(our_mounts); do echo "mount: $m"; done
  if [ -e "/run/netns/$SERVICES_NETNS" ]; then echo "netns: $SERVICES_NETNS"; fi
  for d in "$CNI_BRIDGE" "$SERVICES_VETH_HOST"; do
    if ip link show "$d" >/dev/null 2>&1; then echo "link: $d"; fi
  done
  ip -o link show master "$CNI_BRIDGE" 2>/dev/null | awk -F': ' '{print "link: " $2}' || true
  local ipt
  for ipt in iptables-save ip6tables-save; do
    "$ipt" 2>/dev/null | grep -E "^:(KUBE-|$FORWARD_CHAIN )" | awk -v t="$ipt" '{print t ": chain " substr($1, 2)}' || true
  done
  if [ -n "$(ip route show "$SERVICE_CIDR" 2>/dev/null)" ]; then echo "route: $SERVICE_CIDR"; fi
  for d in $(cgroup_dirs); do
    if [ -d "$d" ]; then echo "cgroup: $d"; fi
  done
  local state=$CLUSTER_DIR/host-state
  if [ -f "$state/sysctls" ]; then
    while read -r s v; do
      [ "$(cat "/proc/sys/$s")" = "$v" ] || echo "sysctl: $s is $(cat "/proc/sys/$s"), was $v"
    done <"$state/sysctls"
  fi
  if [ -f "$state/absent-dirs" ]; then
    while read -r d; do
      if [ -e "$d" ]; then echo "path: $d (did not exist before cluster-up)"; fi
    done <"$state/absent-dirs"
  fi
  for d in /var/log/containers/*.log; do
    if [ -L "$d" ] && [[ $(readlink "$d") == "$CLUSTER_DIR"/* ]]; then echo "log link: $d"; fi
  done
}

main() {
  [ "${1:-}" = --quiet ] && QUIET=true
  need_root cluster-down
  mkdir -p "$LOGS"
  local start=$SECONDS
  for c in scheduler controller-manager; do stop "$c"; done
  delete_pods
  stop_processes
  unmount_all
  remove_cgroups
  remove_network
  remove_runtime_leftovers
  remove_log_links
  restore_host_state
  local found
  found=$(leftovers)
  if [ -n "$found" ]; then
    echo "cluster-down: leftovers found:" >&2
    echo "$found" >&2
    return 1
  fi
  say "cluster down in $((SECONDS - start))s; leftover check: none (processes, mounts, netns, links, iptables chains, routes, cgroups, sysctls, paths)"
}

main "$@"
