#!/usr/bin/env bash
# go-build-module.sh NAME VERSION MODULE BIN=PKG...: builds commands of a Go
# module that `go install` refuses (a go.mod with replace/exclude directives)
# from a writable copy of the module's folder, once, into
# $LB_TOOLS_DIR/NAME-VERSION/BIN, and points $LB_TOOLS_DIR/bin/BIN at each.
# PKG is relative to the module root (./cmd/executor). Extra linker flags come
# from GO_LDFLAGS. Skips the build when that version is already there.
set -euo pipefail
name=$1 version=$2 module=$3
shift 3
dir="$LB_TOOLS_DIR/$name-$version"
if [ ! -f "$dir/.complete" ]; then
  echo "building $name $version from $module (once; cached in $dir)"
  src=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || { echo "go mod download $module@$version gave no folder" >&2; exit 1; }
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  cp -r "$src" "$dir.tmp/src" && chmod -R u+w "$dir.tmp/src"
  for spec in "$@"; do
    bin=${spec%%=*} pkg=${spec#*=}
    (cd "$dir.tmp/src" && CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" \
      go build -trimpath -ldflags "-s -w ${GO_LDFLAGS:-}" -o "$dir.tmp/$bin" "$pkg")
  done
  rm -rf "$dir.tmp/src"
  touch "$dir.tmp/.complete"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
mkdir -p "$LB_TOOLS_DIR/bin"
for spec in "$@"; do
  bin=${spec%%=*}
  ln -sfn "../$name-$version/$bin" "$LB_TOOLS_DIR/bin/$bin"
done
