#!/usr/bin/env bash
# build.sh: builds the local cluster's programs from the Go module proxy into
# the tool cache ($LB_TOOLS_DIR/NAME-VERSION), once per version:
#   kubernetes       kube-apiserver, kube-controller-manager, kube-scheduler,
#                    kubelet, kube-proxy, kubectl (module tests/cluster/k8s)
#   tekton-pipeline  controller, webhook, resolvers and the step helpers, + config/
#   tekton-triggers  controller, webhook, core interceptors, EventListener sink, + config/
#   tkn              the Tekton CLI
#   coredns          cluster DNS
# A component whose folder is complete is skipped.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

# finish NAME VERSION SECONDS: mark a build complete and say how long it took.
finish() {
  local dir="$LB_TOOLS_DIR/$1-$2"
  touch "$dir.tmp/.complete"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
  log "built $1 $2 in $3s"
}

build_kubernetes() {
  local dir=$K8S_BIN start=$SECONDS
  [ -f "$dir/.complete" ] && return 0
  local want
  want=$(go mod edit -json "$CLUSTER_SRC/k8s/go.mod" | jq -r '.Require[] | select(.Path == "k8s.io/kubernetes") | .Version')
  [ "$want" = "$KUBERNETES_VERSION" ] || die "KUBERNETES_VERSION=$KUBERNETES_VERSION but tests/cluster/k8s/go.mod requires $want: change both"
  log "building kubernetes $KUBERNETES_VERSION (once; cached in $dir)"
  local minor=${KUBERNETES_VERSION#v1.}
  minor=${minor%%.*}
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  go build -C "$CLUSTER_SRC/k8s" -trimpath -o "$dir.tmp/" -ldflags "-s -w \
    -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION \
    -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
    -X k8s.io/component-base/version.gitTreeState=clean" tool
  finish kubernetes "$KUBERNETES_VERSION" $((SECONDS - start))
}

# build_from_module NAME MODULE VERSION PACKAGE...: copies the module's folder
# out of the module cache (some have replace lines, so `go install` refuses
# them), builds PACKAGEs there and keeps the release config/ folder.
build_from_module() {
  local name=$1 module=$2 version=$3 start=$SECONDS
  local dir="$LB_TOOLS_DIR/$name-$version"
  shift 3
  [ -f "$dir/.complete" ] && return 0
  log "building $name $version (once; cached in $dir)"
  local src
  src=$(cd / && go mod download -json "$module@$version" | jq -r .Dir)
  [ -d "$src" ] || die "go mod download $module@$version gave no folder"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  cp -r "$src" "$dir.tmp/src" && chmod -R u+w "$dir.tmp/src"
  (cd "$dir.tmp/src" && go build -trimpath -ldflags "-s -w" -o "$dir.tmp/" "$@")
  if [ -d "$dir.tmp/src/config" ]; then mv "$dir.tmp/src/config" "$dir.tmp/config"; fi
  rm -rf "$dir.tmp/src"
  finish "$name" "$version" $((SECONDS - start))
}

link_tool() { # NAME PATH: $LB_TOOLS_DIR/bin/NAME -> PATH
  mkdir -p "$LB_TOOLS_DIR/bin"
  ln -sfn "$2" "$LB_TOOLS_DIR/bin/$1"
}

main() {
  export LB_TOOLS_DIR
  build_kubernetes
  link_tool kubectl "$K8S_BIN/kubectl"
  build_from_module tekton-pipeline github.com/tektoncd/pipeline "$TEKTON_PIPELINE_VERSION" \
    ./cmd/controller ./cmd/webhook ./cmd/resolvers ./cmd/entrypoint ./cmd/nop ./cmd/sidecarlogresults ./cmd/workingdirinit
  build_from_module tekton-triggers github.com/tektoncd/triggers "$TEKTON_TRIGGERS_VERSION" \
    ./cmd/controller ./cmd/webhook ./cmd/interceptors ./cmd/eventlistenersink
  build_from_module tkn github.com/tektoncd/cli "$TKN_VERSION" ./cmd/tkn
  link_tool tkn "$LB_TOOLS_DIR/tkn-$TKN_VERSION/tkn"
  "$CLUSTER_SRC/../tools/go-install.sh" coredns "$COREDNS_VERSION" github.com/coredns/coredns
  log "cluster tools ready in $LB_TOOLS_DIR"
}

main "$@"
