// Package images makes the container images tests and the local cluster need,
// with no Docker engine and no public registry: a busybox base from Debian's
// busybox-static, a distroless-like static base (CA certificates, tzdata,
// nonroot 65532), language bases from debootstrap (cached in the tool cache),
// a Go toolchain image from the host's Go, and images wrapping Go binaries the
// way ko lays them out (/ko-app/NAME).
//
// Each base is pushed under the repository path of the public image it stands
// in for (library/python, distroless/static-debian12, ...), so that
// render-dockerfile's BASE_REGISTRY switch points builds at the local copies.
package images
