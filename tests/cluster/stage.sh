#!/usr/bin/env bash
# stage: put this checkout's catalog on the running local cluster's registry,
# as a release would: the step images (cmd/*, wrapped the way ko does), the
# Kaniko executor image, the stand-ins of the public base images the rendered
# Dockerfiles start FROM, and release.yaml with every image pinned by digest.
# Writes $CLUSTER_DIR/stage.env (LB_RELEASE_YAML, LB_BASE_REGISTRY) for
# `make run` and the e2e tests. Idempotent: unchanged images push nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
REPO_ROOT=$(cd "$CLUSTER_SRC/../.." && pwd)
export_settings
cd "$REPO_ROOT"

[ -f "$CLUSTER_DIR/e2e.env" ] || die "no running cluster: run make cluster-up"
curl -sf "http://$REGISTRY/v2/" >/dev/null || die "the registry $REGISTRY does not answer: run make cluster-up"

log "building the step binaries"
make -s build
go build -trimpath -o "$RUN/bin/" ./tests/cmd/images ./tests/cmd/gitserver ./tests/cmd/httpsfiles ./catalog/cmd/release
images=$RUN/bin/images

log "pushing the step images to $REGISTRY/lambda-builder"
declare -a image_flags=()
while read -r app ref; do
  image_flags+=(-image "$app=$ref")
done < <("$images" each "$REGISTRY/lambda-builder" dev bin/fetch-code bin/render-dockerfile bin/verify-image bin/sns-interceptor)

log "building and pushing the Kaniko executor image"
kaniko=$(make -s kaniko-image REGISTRY="$REGISTRY" | tail -n 1)
[[ $kaniko == *@sha256:* ]] || die "make kaniko-image printed no image by digest (got: $kaniko)"

log "pushing the base image stand-ins (python, node, golang, distroless static)"
"$images" push "$REGISTRY" python node golang static >/dev/null

"$RUN/bin/release" resolve -o "$RUN/release.yaml" "${image_flags[@]}" -param "BUILDER_IMAGE=$kaniko"
"$RUN/bin/release" resolve-files -o "$RUN/triggers" "${image_flags[@]}" pipelines/function-build/0.1/triggers/*.yaml
cat >"$CLUSTER_DIR/stage.env" <<ENV
LB_RELEASE_YAML=$RUN/release.yaml
LB_BASE_REGISTRY=$REGISTRY
LB_TRIGGERS_DIR=$RUN/triggers
LB_GITSERVER=$RUN/bin/gitserver
LB_HTTPSFILES=$RUN/bin/httpsfiles
LB_SERVICES_NETNS=$SERVICES_NETNS
LB_SERVICES_IP=$SERVICES_IP
ENV
log "staged: $RUN/release.yaml (Kaniko $kaniko)"
