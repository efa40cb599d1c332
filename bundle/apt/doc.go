// Package apt carries Debian and Ubuntu packages across the air gap: it
// verifies a repository's signed metadata against a pinned key, resolves
// the dependency closure of the packages wanted from its Packages
// indexes, and names the paths under which a mirror serves what it kept
// back to apt in the repository's own layout. It downloads no .deb and
// serves nothing itself: bundle's download engine fetches each .deb
// (checked against the Size and SHA256 its Package lists) and the file
// server serves the bundle.
//
// # Formats read
//
// Control files are deb822 (deb822(5)): paragraphs separated by blank
// lines, "Name: value" fields, continuation lines starting with a space or
// tab, "#" comments (ParseControl, ControlReader). Versions are
// [epoch:]upstream[-revision] compared as dpkg does, "~" before
// everything, letters before other characters, digit runs numerically
// (ParseVersion, CompareVersions). Relationship fields are or-groups
// ("a (>= 1) | b:any [amd64]", ParseDependencies); build profiles are
// dropped.
//
// A repository is read as apt reads it:
//
//	{url}/dists/{suite}/InRelease           Release, clearsigned
//	{url}/dists/{suite}/Release             the same text, unsigned...
//	{url}/dists/{suite}/Release.gpg         ...and its detached signature
//	{url}/dists/{suite}/{comp}/binary-{arch}/Packages.xz  (.gz, .bz2, ...)
//	{url}/dists/{suite}/{comp}/i18n/Translation-en.xz     (.gz, .bz2, ...)
//	{url}/{Filename}                        each .deb, Filename from Packages
//
// The Release's SHA256 list gives the size and sha256 of every index; the
// Packages index gives the size and sha256 of every .deb. FetchMetadata
// verifies InRelease (or Release with Release.gpg) against a pinned Key
// (NewKey: an armored or binary public key or keyring, such as
// /usr/share/keyrings/debian-archive-keyring.gpg, and the primary key's
// fingerprint; signatures by its subkeys count), then each index against
// the Release before anything is decompressed.
//
// Indexes are read compressed with gzip, xz or bzip2, or uncompressed
// (OpenIndex); a compressed index may not expand beyond
// FetchOptions.MaxIndexSize (DefaultMaxIndexSize, 1 GiB: ErrTooLarge).
// Repositories differ in what they publish: Debian lists Packages (which
// it does not serve) and Packages.xz, Ubuntu Packages, .gz and .xz,
// download.docker.com Packages, .gz and .bz2.
//
// # What FetchMetadata keeps
//
// A node's apt picks one of the compressions the Release lists, in its
// own order of preference, and with "Acquire-By-Hash: yes" asks for it
// as {dir}/by-hash/SHA256/{sha256}. So Metadata.Files holds, each byte
// for byte as upstream serves it and each verified:
//
//   - InRelease, Release and Release.gpg, those that exist; Release and
//     Release.gpg are left out when InRelease verifies and they do not,
//     or list other files (upstream mirrors do serve stale pairs);
//   - for each component and architecture, every compressed variant of
//     Packages the Release lists, including those this package cannot
//     decompress (.lzma, .zst, .lz4: keeping needs only the sha256), and
//     the uncompressed Packages only when no variant it can read is
//     listed;
//   - for each component, Translation-en in the same way (never parsed;
//     none listed, or a listed one upstream does not serve, is no error).
//
// Metadata.Indexes holds one parsed index per component and architecture,
// read from the first of .gz, .xz, .bz2 and uncompressed that is kept.
// Each MetaFile.Path is "dists/{suite}/" and the path the Release lists.
// Contents, pdiffs (Packages.diff/) and other languages are not fetched:
// apt asks for Contents only when configured to (apt-file), for pdiffs
// only when it holds older lists, falling back to the whole index when
// they are missing.
//
// A flat repository (Source.Flat; sources line "deb URL ./", as NVIDIA's
// nvidia.github.io repositories are) has InRelease, Release, Release.gpg
// and Packages in URL itself, no dists/ and no components; its Filenames
// start with "./", which is dropped. apt asks for "URL/./InRelease",
// which a mirror answers as "URL/InRelease" (DropDotSegments).
//
// # Resolution
//
// Resolve computes the closure of Pre-Depends and Depends (Recommends on
// request) over several indexes, with alternatives, version constraints,
// virtual packages through (versioned) Provides, and Conflicts and Breaks
// steering the choice among candidates; see Resolve for the rules. What the target already has can be given by name, by a dpkg
// status file (ParseStatus) or by assuming Essential and required
// packages. Failures are a *MissingError naming the package and the chain
// that needed it, or a *ConflictError.
//
// # The paths a mirror serves
//
// A mirror serves each file kept under its upstream path from the
// repository root (dists/... byte for byte as signed upstream; each .deb
// at its Filename, under pool/ or, flat, at the root) and each index
// under dists/ also at apt's {dir}/by-hash/SHA256/{sha256} (ByHashPath;
// InRelease, Release and Release.gpg have no such name). paimirror's file
// server does so from the bundle; a node uses it with its own keyring:
//
//	deb http://HOST:PORT{prefix} {suite} {components}
//
// SourcesLine writes such a line, refusing any word that would change it
// or add another (whitespace, a newline, apt's '#', '"', '[' and ']').
//
// # Errors
//
// Sentinels are in errors.go; *SignatureError names the repository, the
// fingerprint wanted and the issuers found; *ChecksumError gives the path
// (relative to dists/{suite}/ for an index, to the root for a .deb), the
// URL and both digests (bytes that fail are never kept).
//
// # Concurrency
//
// Parsed values (Paragraph, Version, Relation, Release, Package, Index,
// Key) are not changed after parsing and are safe to share for reading.
// Resolve works sequentially and does not change its indexes, so several
// Resolve calls may share them. FetchMetadata is safe to call
// concurrently; ByHashPath, DropDotSegments and SourcesLine only build
// strings.
//
// Libraries here never print: they return data and log through an
// optional *slog.Logger.
package apt
