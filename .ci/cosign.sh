#!/usr/bin/env bash
# cosign.sh: build the real cosign that paimirror's signing tests check
# against (bundle/sign, cmd/paimirror's testdata/cosign), from the Go module
# proxy, once, into a cache directory:
#   - cosign: github.com/sigstore/cosign/v2/cmd/cosign v2.6.5
#
#   .ci/cosign.sh            build it if missing; print the dir
#
# The binary lands in $PAIMIRROR_CACHE/bin/cosign, PAIMIRROR_CACHE
# defaulting to ${XDG_CACHE_HOME:-~/.cache}/paimirror (Go's
# os.UserCacheDir, where bundletest.Cosign looks). It is rebuilt only when
# missing or not the version above (checked through `go version -m`).
# Cold, about 10 CPU-minutes (cosign is large: cloud KMS clients,
# Kubernetes, OPA, CUE; measured: 24 minutes on 2 cores shared with other
# builds, 7m20s user + 2m30s system, downloads included); 30 s with Go's
# build cache warm; under a second when cached. The tests run it with no network. Nothing of it is
# committed, and paimirror's own binary imports none of it.
set -euo pipefail

COSIGN_VERSION=v2.6.5
GO=${GO:-go}

CACHE_ROOT="${PAIMIRROR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paimirror}"
OUT="$CACHE_ROOT/bin"

# is_cosign FILE: FILE is cosign built from COSIGN_VERSION.
is_cosign() {
	[ -x "$1" ] || return 1
	local info
	info="$("$GO" version -m "$1" 2>/dev/null)" || return 1
	grep -Eq '^[[:space:]]+path[[:space:]]+github\.com/sigstore/cosign/v2/cmd/cosign$' <<<"$info" &&
		grep -Eq "^[[:space:]]+(mod|dep)[[:space:]]+github\\.com/sigstore/cosign/v2[[:space:]]+${COSIGN_VERSION//./\\.}([[:space:]]|\$)" <<<"$info"
}

mkdir -p "$OUT"

if ! is_cosign "$OUT/cosign"; then
	start=$SECONDS
	tmp="$(mktemp -d "$OUT/.build-cosign.XXXXXX")"
	# shellcheck disable=SC2064 # expand $tmp now
	trap "rm -rf '$tmp'" EXIT
	echo "cosign.sh: building github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION into $OUT/cosign" >&2
	GOFLAGS= GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$tmp" \
		"$GO" install -trimpath -ldflags "-s -w" "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION"
	mv "$tmp/cosign" "$OUT/cosign"
	rm -rf "$tmp"
	trap - EXIT
	echo "cosign.sh: built cosign in $((SECONDS - start))s" >&2
	is_cosign "$OUT/cosign" || { echo "cosign.sh: $OUT/cosign is not cosign $COSIGN_VERSION" >&2; exit 1; }
fi

echo "$OUT"
