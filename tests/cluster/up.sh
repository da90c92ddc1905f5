#!/usr/bin/env bash
# up.sh (make cluster-up): starts a single-node Kubernetes with Tekton
# Pipelines and Triggers, from the binaries build.sh made, and returns when a
# TaskRun has Succeeded and an EventListener turned a POST into a TaskRun.
#
# What runs where (see README "Local cluster"):
#   host, 127.0.0.1 only   etcd, kube-apiserver, controller-manager, scheduler,
#                          containerd, kubelet, kube-proxy
#   netns $SERVICES_NETNS  the registry ($REGISTRY) and the API server forwarder
#                          (pods use the `kubernetes` Service)
#   pods on $CNI_BRIDGE    CoreDNS, Tekton (controller, webhook, resolvers),
#                          Triggers (controller, webhook, core interceptors)
#
# A healthy cluster is reused; anything else is torn down (down.sh) and
# started afresh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPO_ROOT=$(cd "$CLUSTER_SRC/../.." && pwd)

check_prerequisites() {
  local f
  for f in "$K8S_BIN/.complete" "$PIPELINE_DIR/.complete" "$TRIGGERS_DIR/.complete" "$LB_TOOLS_DIR/coredns-$COREDNS_VERSION/coredns"; do
    [ -e "$f" ] || die "missing $f: run make cluster-tools"
  done
  for f in etcd containerd ctr runc docker-registry socat iptables ip openssl jq curl tini-static; do
    command -v "$f" >/dev/null || die "missing $f: run make system-deps"
  done
  [ -x "$CNI_BIN_DIR/bridge" ] || die "missing CNI plugins in $CNI_BIN_DIR: run make system-deps"
  [ -x "$LB_TOOLS_DIR/bin/versitygw" ] || die "missing $LB_TOOLS_DIR/bin/versitygw (the S3 server): run make tools"
}

# --- State: a fresh cluster starts from empty folders; the registry's
# storage is kept (content-addressed: pushes of unchanged images are cheap).
prepare_state() {
  if grep -q " $CLUSTER_DIR/" /proc/mounts; then
    die "mounts remain under $CLUSTER_DIR: run make cluster-down"
  fi
  rm -rf "$CLUSTER_DIR"/{etcd,containerd,kubelet,pod-logs,cni,pki,run,logs,pids}
  rm -rf "$CLUSTER_DIR/s3"
  mkdir -p "$CLUSTER_DIR"/{registry,s3,pod-logs,cni/net.d} "$PKI" "$RUN" "$LOGS" "$PIDS"
  save_host_state
}

# save_host_state records what cluster-down must put back: the sysctls the
# components change and which OUTSIDE_DIRS did not exist yet. A record left
# by a crashed run is older, hence the one to keep.
save_host_state() {
  local state=$CLUSTER_DIR/host-state s d
  mkdir -p "$state"
  if [ ! -f "$state/sysctls" ]; then
    for s in $SAVED_SYSCTLS; do echo "$s $(cat "/proc/sys/$s")"; done >"$state/sysctls.tmp"
    mv "$state/sysctls.tmp" "$state/sysctls"
  fi
  if [ ! -f "$state/absent-dirs" ]; then
    for d in $OUTSIDE_DIRS; do [ -e "$d" ] || echo "$d"; done >"$state/absent-dirs"
  fi
}

# --- Certificates: one CA; serving certs for the API server and kubelet;
# client certs per component; the service-account signing key.
issue_cert() { # NAME SUBJECT EXTENDED-USAGE [SUBJECT-ALT-NAMES]
  local name=$1 subject=$2 usage=$3 sans=${4:-}
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    if [ -n "$sans" ]; then echo "subjectAltName=$sans"; fi
  } >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

write_kubeconfig() { # FILE CERT-NAME
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: lambda-builder
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$2.crt")
    client-key-data: $(base64 -w0 "$PKI/$2.key")
contexts:
- name: lambda-builder
  context: {cluster: lambda-builder, user: $2}
current-context: lambda-builder
EOF
  chmod 600 "$1"
}

make_certs() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -subj "/CN=lambda-builder-local-ca" 2>/dev/null
  issue_cert apiserver "/CN=kube-apiserver" serverAuth \
    "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN,IP:127.0.0.1,IP:$KUBERNETES_SERVICE_IP,IP:$SERVICES_IP"
  issue_cert kubelet-serving "/CN=$NODE_NAME" serverAuth "DNS:$NODE_NAME,DNS:localhost,IP:127.0.0.1"
  issue_cert admin "/O=system:masters/CN=lambda-builder-admin" clientAuth
  issue_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  issue_cert node "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
  issue_cert controller-manager "/CN=system:kube-controller-manager" clientAuth
  issue_cert scheduler "/CN=system:kube-scheduler" clientAuth
  issue_cert kube-proxy "/CN=system:kube-proxy" clientAuth
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/service-accounts.key"
  openssl ec -in "$PKI/service-accounts.key" -pubout -out "$PKI/service-accounts.pub" 2>/dev/null
  write_kubeconfig "$CLUSTER_KUBECONFIG" admin
  local c
  for c in node controller-manager scheduler kube-proxy; do write_kubeconfig "$PKI/$c.kubeconfig" "$c"; done
}

# --- Network: the services namespace (veth pair), the pods' bridge, the
# route to Service IPs, forwarding between the two and nowhere else.
setup_network() {
  ip netns add "$SERVICES_NETNS"
  ip link add "$SERVICES_VETH_HOST" type veth peer name "$SERVICES_VETH_NS" netns "$SERVICES_NETNS"
  ip addr add "$SERVICES_HOST_IP/$SERVICES_PREFIX" dev "$SERVICES_VETH_HOST"
  ip link set "$SERVICES_VETH_HOST" up
  in_services_netns ip link set lo up
  in_services_netns ip addr add "$SERVICES_IP/$SERVICES_PREFIX" dev "$SERVICES_VETH_NS"
  in_services_netns ip link set "$SERVICES_VETH_NS" up
  in_services_netns ip route add default via "$SERVICES_HOST_IP"

  # The CNI bridge plugin adopts an existing bridge; making it now lets the
  # host route Service IPs through it before the first pod exists.
  ip link add "$CNI_BRIDGE" type bridge
  ip addr add "$POD_GATEWAY/${POD_CIDR#*/}" dev "$CNI_BRIDGE"
  ip link set "$CNI_BRIDGE" up
  ip route add "$SERVICE_CIDR" dev "$CNI_BRIDGE" src "$POD_GATEWAY"

  sysctl -qw net.ipv4.ip_forward=1
  iptables -w -N "$FORWARD_CHAIN"
  iptables -w -A "$FORWARD_CHAIN" -i "$CNI_BRIDGE" -o "$CNI_BRIDGE" -j ACCEPT
  iptables -w -A "$FORWARD_CHAIN" -i "$CNI_BRIDGE" -o "$SERVICES_VETH_HOST" -j ACCEPT
  iptables -w -A "$FORWARD_CHAIN" -i "$SERVICES_VETH_HOST" -o "$CNI_BRIDGE" -j ACCEPT
  iptables -w -A "$FORWARD_CHAIN" -i "$CNI_BRIDGE" -j DROP
  iptables -w -A "$FORWARD_CHAIN" -i "$SERVICES_VETH_HOST" -j DROP
  iptables -w -I FORWARD 1 -j "$FORWARD_CHAIN"
  render "$CLUSTER_SRC/templates/cni.conflist" "$CLUSTER_DIR/cni/net.d/10-$CNI_NETWORK.conflist"
}

# --- Services netns: the registry, S3 (versitygw over a posix folder) and
# the API server forwarder (pods reach $SERVICES_IP:$APISERVER_PORT; the host
# end dials 127.0.0.1).
start_services() {
  render "$CLUSTER_SRC/templates/registry.yml" "$RUN/registry.yml"
  start registry ip netns exec "$SERVICES_NETNS" docker-registry serve "$RUN/registry.yml"
  start s3 ip netns exec "$SERVICES_NETNS" "$LB_TOOLS_DIR/bin/versitygw" \
    --port "$SERVICES_IP:$S3_PORT_NS" --access "$S3_ACCESS_KEY" --secret "$S3_SECRET_KEY" \
    --region "$S3_REGION" --quiet posix "$CLUSTER_DIR/s3"
  start api-forward-host socat "UNIX-LISTEN:$RUN/apiserver.sock,fork,unlink-early" "TCP:127.0.0.1:$APISERVER_PORT"
  start api-forward-ns ip netns exec "$SERVICES_NETNS" \
    socat "TCP-LISTEN:$APISERVER_PORT,bind=$SERVICES_IP,fork,reuseaddr" "UNIX-CONNECT:$RUN/apiserver.sock"
}

start_etcd() {
  local client=http://127.0.0.1:$ETCD_CLIENT_PORT peer=http://127.0.0.1:$ETCD_PEER_PORT
  start etcd etcd --name lb --data-dir "$CLUSTER_DIR/etcd" \
    --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" --initial-cluster "lb=$peer" \
    --logger zap --log-outputs stderr
}

# --- Images: the pause and busybox images, Tekton's, Triggers' and CoreDNS,
# pushed to the cluster registry; their digest references go to images.env.
push_images() {
  go build -C "$REPO_ROOT" -trimpath -o "$RUN/bin/" ./tests/cmd/images ./tests/cluster/pause
  wait_for "the registry at $REGISTRY" curl -sf "http://$REGISTRY/v2/"
  local images=$RUN/bin/images
  # (Assignments, not echo "$(...)": a failed push must stop cluster-up.)
  BUSYBOX_IMAGE=$("$images" push "$REGISTRY" busybox | sed -n 1p)
  SHELL_IMAGE=$("$images" push "$REGISTRY" busybox-nonroot)
  PAUSE_IMAGE=$("$images" binaries "$REGISTRY/lambda-builder/pause:latest" "$RUN/bin/pause")
  COREDNS_IMAGE=$("$images" binaries "$REGISTRY/coredns/coredns:$COREDNS_VERSION" "$LB_TOOLS_DIR/coredns-$COREDNS_VERSION/coredns")
  export BUSYBOX_IMAGE SHELL_IMAGE PAUSE_IMAGE COREDNS_IMAGE
  printf '%s\n' "BUSYBOX_IMAGE=$BUSYBOX_IMAGE" "SHELL_IMAGE=$SHELL_IMAGE" "PAUSE_IMAGE=$PAUSE_IMAGE" \
    "COREDNS_IMAGE=$COREDNS_IMAGE" >"$RUN/images.env"
  "$images" each "$REGISTRY/tektoncd/pipeline" "$TEKTON_PIPELINE_VERSION" \
    "$PIPELINE_DIR"/{controller,webhook,entrypoint,nop,sidecarlogresults,workingdirinit} >"$RUN/images-pipeline"
  # The resolvers run under /sbin/tini (their release base is tini-git).
  local tini
  tini=$("$images" push "$REGISTRY" tini)
  "$images" each "$REGISTRY/tektoncd/pipeline" "$TEKTON_PIPELINE_VERSION" --base "$tini" "$PIPELINE_DIR/resolvers" >>"$RUN/images-pipeline"
  "$images" each "$REGISTRY/tektoncd/triggers" "$TEKTON_TRIGGERS_VERSION" \
    "$TRIGGERS_DIR"/{controller,webhook,interceptors,eventlistenersink} >"$RUN/images-triggers"
}

start_containerd() {
  render "$CLUSTER_SRC/templates/containerd.toml" "$RUN/containerd.toml"
  start containerd containerd --config "$RUN/containerd.toml"
  wait_for containerd ctr --address "$CLUSTER_DIR/containerd/containerd.sock" version
}

start_control_plane() {
  wait_for etcd curl -sf "http://127.0.0.1:$ETCD_CLIENT_PORT/health"
  start apiserver "$K8S_BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --bind-address=127.0.0.1 --secure-port="$APISERVER_PORT" --advertise-address="$SERVICES_IP" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=Hostname \
    --service-account-issuer="https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
    --service-account-key-file="$PKI/service-accounts.pub" --service-account-signing-key-file="$PKI/service-accounts.key" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true \
    --enable-aggregator-routing=true \
    --cert-dir="$RUN/apiserver" --profiling=false
  wait_for "the API server" kubectl get --raw /readyz
  start controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig="$PKI/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$PKI/controller-manager.kubeconfig" --authorization-kubeconfig="$PKI/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$CONTROLLER_MANAGER_PORT" --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/service-accounts.key" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --controllers='*,-cloud-node-lifecycle-controller' --profiling=false
  start scheduler "$K8S_BIN/kube-scheduler" \
    --kubeconfig="$PKI/scheduler.kubeconfig" \
    --authentication-kubeconfig="$PKI/scheduler.kubeconfig" --authorization-kubeconfig="$PKI/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --leader-elect=false --profiling=false
}

# make_cgroups creates kubelet's cgroupRoot in every hierarchy (the kubelet
# refuses a missing root); cpuset children need cpus and mems set first.
make_cgroups() {
  local d parent
  for d in $(cgroup_dirs); do
    mkdir -p "$d"
    if [ -f "$d/cpuset.cpus" ]; then
      parent=$(dirname "$d")
      cat "$parent/cpuset.cpus" >"$d/cpuset.cpus"
      cat "$parent/cpuset.mems" >"$d/cpuset.mems"
    fi
  done
}

start_node() {
  make_cgroups
  render "$CLUSTER_SRC/templates/kubelet.yaml" "$RUN/kubelet.yaml"
  render "$CLUSTER_SRC/templates/kube-proxy.yaml" "$RUN/kube-proxy.yaml"
  start kubelet "$K8S_BIN/kubelet" --config="$RUN/kubelet.yaml" --kubeconfig="$PKI/node.kubeconfig" \
    --root-dir="$CLUSTER_DIR/kubelet" --hostname-override="$NODE_NAME" --v=1
  start kube-proxy "$K8S_BIN/kube-proxy" --config="$RUN/kube-proxy.yaml" --v=1
  wait_for "node $NODE_NAME Ready" node_ready
  wait_for "the default service account" kubectl get serviceaccount default
}

node_ready() {
  [ "$(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

# --- In-cluster components, from their release config/ with ko:// images
# replaced by the digests pushed above.

# release_yaml DIR IMAGES-FILE KO-PREFIX FILE...: the FILEs of DIR as one YAML
# stream, images rewritten; fails if anything still points outside $REGISTRY.
release_yaml() {
  local dir=$1 images=$2 prefix=$3 f app ref
  shift 3
  local -a subst=()
  # ko://PREFIX/cmd/APP, ended by a quote, comma, space or the line's end
  while read -r app ref; do subst+=(-e "s#ko://$prefix/cmd/$app([\"', ]|\$)#$ref\\1#g"); done <"$images"
  for f in "$@"; do
    if [ "$f" = config-feature-flags.yaml ] && [ "$prefix" = github.com/tektoncd/pipeline ]; then
      kubectl patch --local -f "$dir/$f" --type merge -p "$(tekton_feature_flags)" -o yaml
    else
      cat "$dir/$f"
    fi
    printf '\n---\n' # some release files lack a final newline
  done | sed -E "${subst[@]}" \
    -e "s|cgr.dev/chainguard/busybox@sha256:[0-9a-f]*|$SHELL_IMAGE|" \
    -e "s|mcr.microsoft.com/powershell:nanoserver@sha256:[0-9a-f]*|$SHELL_IMAGE|"
}

tekton_feature_flags() {
  local kv data='{}'
  for kv in $TEKTON_FEATURE_FLAGS; do data=$(jq -c --arg k "${kv%%=*}" --arg v "${kv#*=}" '. + {($k): $v}' <<<"$data"); done
  jq -c -n --argjson d "$data" '{data: $d}'
}

# check_images FILE: no ko:// left, and every image field and digest
# reference (controller args) points into $REGISTRY.
check_images() {
  local bad
  bad=$({
    grep -n 'ko://' "$1" || true
    grep -nE '^[[:space:]-]*image:[[:space:]]*"?[^"[:space:]]' "$1" | grep -v "image: *\"\?$REGISTRY/" || true
    grep -nE '[a-z0-9./-]+@sha256:[0-9a-f]{64}' "$1" | grep -v "$REGISTRY/" || true
  })
  [ -z "$bad" ] || die "$1 still refers to images outside $REGISTRY:"$'\n'"$bad"
}

apply() { # FILE: server-side apply, retried while webhooks come up
  wait_for "kubectl apply $1" kubectl apply --server-side --force-conflicts -f "$1"
}

install_coredns() {
  render "$CLUSTER_SRC/templates/coredns.yaml" "$RUN/coredns.yaml"
  apply "$RUN/coredns.yaml"
}

install_tekton() {
  local c=$PIPELINE_DIR/config
  (cd "$c" && release_yaml "$c" "$RUN/images-pipeline" github.com/tektoncd/pipeline \
    100-namespace/*.yaml 200-*.yaml 201-*.yaml 300-crds/*.yaml clusterrole-aggregate-*.yaml config-*.yaml \
    500-webhooks.yaml webhook.yaml controller.yaml resolvers/*.yaml) >"$RUN/tekton-pipeline.yaml"
  check_images "$RUN/tekton-pipeline.yaml"
  apply "$RUN/tekton-pipeline.yaml"
}

install_triggers() {
  local c=$TRIGGERS_DIR/config
  (cd "$c" && release_yaml "$c" "$RUN/images-triggers" github.com/tektoncd/triggers \
    200-*.yaml 201-*.yaml 300-*.yaml clusterrole-aggregate-*.yaml config-*.yaml 500-webhooks.yaml \
    controller-service.yaml controller.yaml webhook-service.yaml webhook.yaml) >"$RUN/tekton-triggers.yaml"
  (cd "$c" && release_yaml "$c" "$RUN/images-triggers" github.com/tektoncd/triggers interceptors/*.yaml) >"$RUN/tekton-triggers-interceptors.yaml"
  check_images "$RUN/tekton-triggers.yaml"
  check_images "$RUN/tekton-triggers-interceptors.yaml"
  apply "$RUN/tekton-triggers.yaml"
}

wait_deployments() {
  local ns
  for ns in "$@"; do
    wait_for "deployments in $ns" kubectl wait --for=condition=Available deployment --all -n "$ns" --timeout=10s
  done
}

# --- Smoke: the cluster is ready when a TaskRun Succeeded and an
# EventListener turned a JSON POST into a TaskRun that Succeeded.

# run_done NAMESPACE KIND NAME: true once Succeeded, GIVE_UP if it failed.
run_done() {
  local status
  status=$(kubectl get "$2" "$3" -n "$1" -o jsonpath='{.status.conditions[?(@.type=="Succeeded")].status}')
  case $status in
    True) return 0 ;;
    False)
      kubectl get "$2" "$3" -n "$1" -o yaml
      return "$GIVE_UP"
      ;;
  esac
  return 1
}

# event_run EVENT-ID: the name of the TaskRun an EventListener made for it.
event_run() {
  local name
  name=$(kubectl get taskrun -n lb-smoke -l "triggers.tekton.dev/triggers-eventid=$1" -o jsonpath='{.items[0].metadata.name}')
  [ -n "$name" ] && echo "$name"
}

smoke() {
  render "$CLUSTER_SRC/templates/smoke.yaml" "$RUN/smoke.yaml"
  apply "$RUN/smoke.yaml"
  local run
  run=$(kubectl create -f "$CLUSTER_SRC/templates/smoke-taskrun.yaml" -o jsonpath='{.metadata.name}')
  wait_for "TaskRun lb-smoke/$run" run_done lb-smoke taskrun "$run"
  log "TaskRun lb-smoke/$run Succeeded"
  wait_for "EventListener lb-smoke/smoke" kubectl wait --for=condition=Ready eventlistener/smoke -n lb-smoke --timeout=10s
  local url reply event
  url=http://$(kubectl get service el-smoke -n lb-smoke -o jsonpath='{.spec.clusterIP}'):8080
  reply=$(curl -sf --retry 30 --retry-all-errors --retry-delay 1 -X POST -H 'Content-Type: application/json' \
    -d '{"message":"hello from an EventListener"}' "$url") || die "POST to EventListener $url failed"
  event=$(jq -r .eventID <<<"$reply")
  wait_for "the TaskRun of event $event" event_run "$event"
  run=$(event_run "$event")
  wait_for "TaskRun lb-smoke/$run" run_done lb-smoke taskrun "$run"
  log "EventListener $url answered; its TaskRun lb-smoke/$run Succeeded"
}

# write_e2e_env records where the cluster is for the e2e tests (make e2e
# exports it).
write_e2e_env() {
  # shellcheck source=/dev/null
  source "$RUN/images.env"
  cat >"$CLUSTER_DIR/e2e.env" <<EOF
LB_KUBECONFIG=$CLUSTER_KUBECONFIG
LB_REGISTRY=$REGISTRY
LB_BUSYBOX_IMAGE=$BUSYBOX_IMAGE
LB_S3_ENDPOINT=$S3_ENDPOINT
LB_S3_ACCESS_KEY=$S3_ACCESS_KEY
LB_S3_SECRET_KEY=$S3_SECRET_KEY
LB_S3_REGION=$S3_REGION
EOF
}

print_info() {
  write_e2e_env
  cat <<EOF
cluster: ready
  kubeconfig  $CLUSTER_KUBECONFIG   (export KUBECONFIG=$CLUSTER_KUBECONFIG)
  registry    $REGISTRY   (plain http, same name from the host and from pods)
  s3          $S3_ENDPOINT   (versitygw; access key $S3_ACCESS_KEY, secret in $CLUSTER_DIR/e2e.env)
  logs        $LOGS   (make cluster-logs collects them with pod logs)
  kubectl     $K8S_BIN/kubectl   tkn: $LB_TOOLS_DIR/bin/tkn
EOF
}

on_exit() {
  local rc=$?
  [ "$rc" -eq 0 ] || echo "cluster-up failed (exit $rc): component logs in $LOGS; make cluster-logs adds pod logs and events" >&2
}

main() {
  need_root cluster-up
  trap on_exit EXIT
  check_prerequisites
  export_settings
  if healthy; then
    log "cluster already running and healthy: reusing it"
    print_info
    return 0
  fi
  log "starting a fresh cluster in $CLUSTER_DIR (node $NODE_NAME)"
  "$CLUSTER_SRC/down.sh" --quiet || die "could not clean up the previous cluster (see above)"
  prepare_state
  make_certs
  setup_network
  start_services
  start_etcd
  wait_for "S3 at $S3_ENDPOINT" curl -s -o /dev/null "$S3_ENDPOINT/"
  log "network, registry, S3 and etcd started"
  push_images
  log "images pushed to $REGISTRY"
  start_containerd
  start_control_plane
  log "control plane ready"
  start_node
  log "node $NODE_NAME Ready"
  install_coredns
  install_tekton
  install_triggers
  wait_deployments kube-system tekton-pipelines tekton-pipelines-resolvers
  apply "$RUN/tekton-triggers-interceptors.yaml"
  wait_deployments tekton-pipelines
  log "CoreDNS, Tekton $TEKTON_PIPELINE_VERSION and Triggers $TEKTON_TRIGGERS_VERSION ready"
  smoke
  log "cluster up"
  print_info
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
