#!/usr/bin/env bash
# kube-binaries.sh: build kube-apiserver and kube-controller-manager from the
# Go module proxy once, into a cache directory, for installer/kube's tests.
#
#   .ci/kube-binaries.sh            build unless already cached; print the dir
#
# The binaries land in $PAIMIRROR_CACHE/kube-v1.32.13/, PAIMIRROR_CACHE
# defaulting to ${XDG_CACHE_HOME:-~/.cache}/paimirror (Go's os.UserCacheDir,
# where installer/kube/kubetest looks). Nothing from Kubernetes is
# committed: the script writes a throw-away module in a temp directory that
# requires k8s.io/kubernetes and replaces each of its staging modules (which
# k8s.io/kubernetes itself points at ./staging/src/...) with the published
# v0.x.y module. About 6 minutes cold on 2 cores; seconds when cached.
#
# etcd is not built here: it comes from Debian (apt-get install etcd-server).
set -euo pipefail

K8S_VERSION=v1.32.13
STAGING_VERSION=v0.32.13
# The module proxy has no k8s.io/endpointslice v0.32.13; its newest v0.32.x,
# v0.32.12, builds with the rest.
ENDPOINTSLICE_VERSION=v0.32.12

CACHE_ROOT="${PAIMIRROR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paimirror}"
OUT="$CACHE_ROOT/kube-$K8S_VERSION"
STAMP="$OUT/.built"
BINARIES=(kube-apiserver kube-controller-manager)

cached() {
	[ -f "$STAMP" ] || return 1
	[ "$(cat "$STAMP")" = "$K8S_VERSION" ] || return 1
	for b in "${BINARIES[@]}"; do
		[ -x "$OUT/$b" ] || return 1
	done
}

if cached; then
	echo "$OUT"
	exit 0
fi

export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

echo "kube-binaries: building Kubernetes $K8S_VERSION into $OUT" >&2
gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
	sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
[ -n "$gomod" ] || { echo "kube-binaries: no go.mod for k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }

{
	echo "module paimirror.invalid/kube-binaries"
	echo
	echo "go 1.23.0"
	echo
	echo "require k8s.io/kubernetes $K8S_VERSION"
	echo
	echo "replace ("
	# Each "k8s.io/x => ./staging/src/k8s.io/x" of kubernetes' go.mod.
	sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\1#p' "$gomod" |
		while read -r m; do
			v="$STAGING_VERSION"
			[ "$m" = k8s.io/endpointslice ] && v="$ENDPOINTSLICE_VERSION"
			printf '\t%s => %s %s\n' "$m" "$m" "$v"
		done
	echo ")"
} >go.mod
n="$(grep -c '=> k8s.io/' go.mod)"
[ "$n" -ge 30 ] || { echo "kube-binaries: found only $n staging modules in $gomod" >&2; exit 1; }

pkg=k8s.io/component-base/version
ldflags="-s -w"
ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=32"
ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"

pkgs=()
for b in "${BINARIES[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done

mkdir -p "$CACHE_ROOT"
tmp="$(mktemp -d "$CACHE_ROOT/.kube-build.XXXXXX")"
trap 'rm -rf "$work" "$tmp"' EXIT
start=$SECONDS
go build -trimpath -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}"
"$tmp/kube-apiserver" --version >&2
echo "$K8S_VERSION" >"$tmp/.built"
chmod 755 "$tmp"

rm -rf "$OUT"
mv "$tmp" "$OUT"
echo "kube-binaries: built in $((SECONDS - start))s" >&2
echo "$OUT"
