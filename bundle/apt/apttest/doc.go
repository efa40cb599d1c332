// Package apttest stands in for an apt repository in tests and demos: it
// generates, in pure Go, .deb files that dpkg and apt accept and a signed
// repository of them, served over HTTP as apt and paimirror read one.
//
// # What it writes
//
// A .deb (Deb) is an ar archive of three members, as dpkg-deb builds one:
//
//	debian-binary    "2.0\n"
//	control.tar.gz   ./control (the package's stanza) and ./md5sums
//	data.tar.gz      the package's files, by default
//	                 ./usr/share/doc/{name}/README
//
// Archives are deterministic: the same Package and time give the same
// bytes, so a package listed in several suites is one pool file.
//
// A Repo holds, per suite added (AddSuite):
//
//	dists/{suite}/InRelease                     Release, clearsigned
//	dists/{suite}/Release                       Origin, Label, Suite, Codename,
//	                                            Date, Architectures, Components,
//	                                            Acquire-By-Hash: yes, SHA256
//	dists/{suite}/Release.gpg                   detached armored signature
//	dists/{suite}/{comp}/binary-{arch}/Packages.gz, .xz (and Packages)
//	dists/{suite}/{comp}/i18n/Translation-en.gz, .xz (and Translation-en)
//	dists/{suite}/{dir}/by-hash/SHA256/{sha256} each index again, by digest
//	pool/{comp}/{p}/{name}/{name}_{version}_{arch}.deb
//
// where {p} is the name's first letter ("lib" and a letter for lib*
// names) and {version} drops the epoch, as Debian's archive does, or
// keeps it as "%3a" with Options.EpochInFilename, as Docker's repository
// does ("docker-ce_5%3a18.09.7~3-0~ubuntu-bionic_amd64.deb"). Packages of
// architecture "all" are listed in every architecture's index. The
// Release lists each index variant with its size and sha256; which
// compressed variants exist is Options.Compressions (default .gz and
// .xz); the uncompressed index is always listed but, like Debian's and
// Ubuntu's archives, served only when Options.Compressions holds "".
//
// The signing key is a fresh ed25519 (OpenPGP v4) key unless
// Options.Entity gives one; Key returns it armored and Fingerprint its
// primary fingerprint, as a sources line's signed-by and paimirror's
// manifest want them.
//
// Mirror serves a tree a test lays out itself (what a mirror kept of a
// Repo, say) as a plain web server would, so the real apt-get can update
// from the copy.
//
// The package is independent of paimirror's own apt code, so tests of
// that code check it against files written from the formats' documents
// (deb(5), deb-control(5), the Debian repository format), and against
// dpkg-deb and apt-get themselves.
//
// # Concurrency
//
// A Repo is safe for concurrent use: AddSuite, Put and Remove may run
// while its Handler serves. Mirror's handler only reads its files.
//
// It is test support, never part of an install.
package apttest
