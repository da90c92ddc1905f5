#!/usr/bin/env bash
# go-install.sh NAME VERSION PACKAGE: builds PACKAGE@VERSION once into
# $LB_TOOLS_DIR/NAME-VERSION/ and points $LB_TOOLS_DIR/bin/NAME at it.
# Skips the build when that version is already there.
set -euo pipefail
name=$1 version=$2 pkg=$3
dir="$LB_TOOLS_DIR/$name-$version"
bin="$dir/$(basename "$pkg")"
if [ ! -x "$bin" ]; then
  echo "building $name $version (once; cached in $dir)"
  rm -rf "$dir.tmp"
  GOBIN="$dir.tmp" CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install -trimpath "$pkg@$version"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
mkdir -p "$LB_TOOLS_DIR/bin"
ln -sfn "../$name-$version/$(basename "$pkg")" "$LB_TOOLS_DIR/bin/$name"
