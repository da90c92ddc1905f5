#!/usr/bin/env bash
# release.sh (make release REGISTRY=host[:port][/path]): what consumers
# install, built from this checkout and pinned by digest:
#   REGISTRY/lambda-builder/base:nonroot              the step images' base (unless KO_DEFAULTBASEIMAGE is set)
#   REGISTRY/lambda-builder/{fetch-code,render-dockerfile,verify-image,sns-interceptor}:VERSION   ko, reproducible
#   REGISTRY/lambda-builder/kaniko-executor:KANIKO_VERSION                        make kaniko-image
#   dist/release.yaml, dist/checksums.txt               every Task and Pipeline, images by digest
#   dist/triggers/                                      the function-build triggers and sns-interceptor, images by digest
#   REGISTRY/<catalog.yaml bundle>:VERSION               the Tekton bundle of release.yaml
# VERSION is catalog/catalog.yaml's version. Prints the bundle by digest last.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${REGISTRY:?usage: make release REGISTRY=host[:port][/path]}"
REGISTRY=${REGISTRY%/}
tools=${LB_TOOLS_DIR:?run through make}/bin
version=$(sed -n 's/^version: *//p' catalog/catalog.yaml)
dist=${DIST:-dist} # DIST: another output folder (the reproducibility test)
step() { printf '[release] %s\n' "$*" >&2; }

mkdir -p "$dist/.bin"
go build -trimpath -o "$dist/.bin/" ./tests/cmd/images ./catalog/cmd/release

base=${KO_DEFAULTBASEIMAGE:-}
if [ -z "$base" ]; then
  step "base image -> $REGISTRY/lambda-builder/base:nonroot"
  base=$("$dist/.bin/images" static "$REGISTRY/lambda-builder/base:nonroot")
fi

step "step images with ko over $base"
# SOURCE_DATE_EPOCH=0 and -trimpath: the same commit gives the same digests.
refs=$(KO_DOCKER_REPO="$REGISTRY/lambda-builder" KO_DEFAULTBASEIMAGE="$base" SOURCE_DATE_EPOCH=0 \
  "$tools/ko" build --base-import-paths --tags "$version" ./cmd/fetch-code ./cmd/render-dockerfile ./cmd/verify-image ./cmd/sns-interceptor)
image_flags=()
for ref in $refs; do
  repo=${ref%%@*}     # host:port/lambda-builder/fetch-code:0.1.0
  app=${repo##*/}     # fetch-code:0.1.0
  image_flags+=(-image "${app%%:*}=$ref")
done
[ "${#image_flags[@]}" -eq 8 ] || { echo "ko printed no image for some step: $refs" >&2; exit 1; }

step "Kaniko executor image"
kaniko=$(make -s kaniko-image REGISTRY="$REGISTRY" | tail -n 1)
[[ $kaniko == *@sha256:* ]] || { echo "make kaniko-image printed no digest: $kaniko" >&2; exit 1; }

step "$dist/release.yaml and $dist/checksums.txt"
"$dist/.bin/release" resolve -o "$dist/release.yaml" "${image_flags[@]}" -param "BUILDER_IMAGE=$kaniko"
"$dist/.bin/release" resolve-files -o "$dist/triggers" "${image_flags[@]}" pipelines/function-build/0.1/triggers/*.yaml
(cd "$dist" && sha256sum release.yaml triggers/* >checksums.txt)

step "bundle"
bundle=$("$dist/.bin/release" bundle -f "$dist/release.yaml" -registry "$REGISTRY")
echo "$bundle" >"$dist/bundle.txt"
# Sorted: ko prints images in the order its parallel builds finish.
printf '%s\n' "${image_flags[@]}" "BUILDER_IMAGE=$kaniko" | grep -v '^-image$' | sort >"$dist/images.txt"
step "done: images in $dist/images.txt; bundle:"
echo "$bundle"
