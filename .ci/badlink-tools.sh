#!/usr/bin/env bash
# badlink-tools.sh: build the real programs that bundle/bundletest/badlink
# runs, from the Go module proxy, once, into a cache directory:
#   - toxiproxy-server: github.com/Shopify/toxiproxy/v2/cmd/server v2.5.0
#     (the bad links: bandwidth, limit_data, reset_peer, latency, timeout);
#   - registry: github.com/distribution/distribution/v3/cmd/registry v3.1.2
#     (the real upstream registry, also the benchmarks' baseline).
#
#   .ci/badlink-tools.sh            build what is missing; print the dir
#
# The binaries land in $PAIMIRROR_CACHE/bin/, PAIMIRROR_CACHE defaulting to
# ${XDG_CACHE_HOME:-~/.cache}/paimirror (Go's os.UserCacheDir, where badlink
# looks). A binary is rebuilt only when it is missing or is not the version
# above (checked through `go version -m` and `registry --version`). Minutes
# cold on 2 cores (about 3 for the registry, 1 to 3 for toxiproxy, as Go's
# build cache has it); well under a second when cached. Nothing of theirs
# is committed.
set -euo pipefail

TOXIPROXY_VERSION=v2.5.0
REGISTRY_VERSION=v3.1.2
GO=${GO:-go}

CACHE_ROOT="${PAIMIRROR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paimirror}"
OUT="$CACHE_ROOT/bin"

# is_toxiproxy FILE: FILE is toxiproxy's server built from TOXIPROXY_VERSION
# (go install: the main module; go build in another module: a dependency).
is_toxiproxy() {
	[ -x "$1" ] || return 1
	local info
	info="$("$GO" version -m "$1" 2>/dev/null)" || return 1
	grep -Eq '^[[:space:]]+path[[:space:]]+github\.com/Shopify/toxiproxy/v2/cmd/server$' <<<"$info" &&
		grep -Eq "^[[:space:]]+(mod|dep)[[:space:]]+github\\.com/Shopify/toxiproxy/v2[[:space:]]+${TOXIPROXY_VERSION//./\\.}([[:space:]]|\$)" <<<"$info"
}

# is_registry FILE: FILE is distribution's registry REGISTRY_VERSION.
is_registry() {
	[ -x "$1" ] || return 1
	"$1" --version 2>/dev/null |
		grep -Eq "github\\.com/distribution/distribution/v3 ${REGISTRY_VERSION//./\\.}(\\+|[[:space:]]|\$)"
}

# install_tool PKG VERSION NAME: go install PKG@VERSION (static, trimmed)
# into a temp dir, then move the binary into $OUT/NAME in one rename.
install_tool() {
	local pkg=$1 version=$2 name=$3 tmp start=$SECONDS
	tmp="$(mktemp -d "$OUT/.build-$name.XXXXXX")"
	# shellcheck disable=SC2064 # expand $tmp now
	trap "rm -rf '$tmp'" EXIT
	echo "badlink-tools: building $pkg@$version into $OUT/$name" >&2
	GOFLAGS= GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$tmp" \
		"$GO" install -trimpath -ldflags "-s -w" "$pkg@$version"
	mv "$tmp/$(basename "$pkg")" "$OUT/$name"
	rm -rf "$tmp"
	trap - EXIT
	echo "badlink-tools: built $name in $((SECONDS - start))s" >&2
}

mkdir -p "$OUT"

if ! is_toxiproxy "$OUT/toxiproxy-server"; then
	# A go install into $OUT itself leaves the binary named "server": copy
	# it (whoever runs it by that name keeps it).
	if is_toxiproxy "$OUT/server"; then
		cp "$OUT/server" "$OUT/.toxiproxy-server.tmp"
		mv "$OUT/.toxiproxy-server.tmp" "$OUT/toxiproxy-server"
	else
		install_tool github.com/Shopify/toxiproxy/v2/cmd/server "$TOXIPROXY_VERSION" toxiproxy-server
	fi
	is_toxiproxy "$OUT/toxiproxy-server" || { echo "badlink-tools: $OUT/toxiproxy-server is not toxiproxy $TOXIPROXY_VERSION" >&2; exit 1; }
fi

if ! is_registry "$OUT/registry"; then
	install_tool github.com/distribution/distribution/v3/cmd/registry "$REGISTRY_VERSION" registry
	is_registry "$OUT/registry" || { echo "badlink-tools: $OUT/registry is not registry $REGISTRY_VERSION" >&2; exit 1; }
fi

echo "$OUT"
