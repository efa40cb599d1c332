package apt_test

import (
	"testing"

	"github.com/paimirror/paimirror/bundle/apt"
)

func TestByHashPath(t *testing.T) {
	const sum = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		path, want string
	}{
		{"dists/bookworm/main/binary-amd64/Packages.xz", "dists/bookworm/main/binary-amd64/by-hash/SHA256/" + sum},
		{"dists/bookworm/main/i18n/Translation-en.bz2", "dists/bookworm/main/i18n/by-hash/SHA256/" + sum},
		{"dists/bionic-updates/stable/binary-amd64/Packages", "dists/bionic-updates/stable/binary-amd64/by-hash/SHA256/" + sum},
		// The signed files name no index: apt never asks for them by hash.
		{"dists/bookworm/InRelease", ""},
		{"dists/bookworm/Release", ""},
		{"dists/bookworm/Release.gpg", ""},
		// Nothing outside dists/: .debs, a flat repository's files.
		{"pool/main/a/apt/apt_2.6.1_amd64.deb", ""},
		{"Packages.xz", ""},
		{"InRelease", ""},
	} {
		got, ok := apt.ByHashPath(tc.path, sum)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("ByHashPath(%q) = %q, %v; want %q", tc.path, got, ok, tc.want)
		}
	}
}

func TestDropDotSegments(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/nvidia/./InRelease", "/nvidia/InRelease"},
		{"/a/././b", "/a/b"},
		{"/a/.//./b", "/a//b"},
		{"/a/../b", "/a/../b"}, // ".." is not dropped: the caller looks the path up exactly
		{"/a/.b", "/a/.b"},
		{"/plain", "/plain"},
	} {
		if got := apt.DropDotSegments(tc.in); got != tc.want {
			t.Errorf("DropDotSegments(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
