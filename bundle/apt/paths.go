package apt

import (
	"path"
	"strings"
)

// ByHashPath returns the second name under which a mirror serves a
// repository file: "{dir}/by-hash/SHA256/{sha256}" beside it, where apt
// asks for an index when the Release says "Acquire-By-Hash: yes". p is
// the file's path from the repository root ("dists/bookworm/main/binary-amd64/Packages.xz")
// and sha256 the lowercase hex digest of its bytes. ok is false for a
// file apt never asks for by hash: one outside dists/ (a .deb under
// pool/, anything of a flat repository) and a suite's InRelease,
// Release and Release.gpg, which name no index. It only builds a
// string; the caller vouches for sha256.
func ByHashPath(p, sha256 string) (byHash string, ok bool) {
	if !strings.HasPrefix(p, "dists/") {
		return "", false
	}
	switch path.Base(p) {
	case "InRelease", "Release", "Release.gpg":
		return "", false
	}
	return path.Dir(p) + "/by-hash/SHA256/" + sha256, true
}

// DropDotSegments removes the "." segments of a request path ("/a/./b" is
// "/a/b"), and nothing else: apt asks a flat repository ("deb URL ./") for
// "URL/./InRelease".
func DropDotSegments(p string) string {
	for strings.Contains(p, "/./") {
		p = strings.ReplaceAll(p, "/./", "/")
	}
	return p
}
