// Package sbom writes a bundle's software bill of materials, SPDX 2.3 JSON
// (SPDXJSON) or CycloneDX 1.6 JSON (CycloneDXJSON), for
// `paimirror inspect -o spdx-json|cyclonedx-json`: what crosses the air
// gap, each piece with its package URL, its checksum and where it came
// from, for a scanner or an auditor on the other side.
//
// # Cost and guarantees
//
// The SBOM is made from the bundle's lock (paimirror.json) alone: no blob
// is read, so it takes the time of encoding the lock, whatever the
// bundle's size, and says nothing about whether the blobs are intact
// (`paimirror verify` does). The same lock gives the same bytes: the
// document's time is the lock's Created (whole seconds, UTC), its identity
// (CycloneDX serialNumber, SPDX documentNamespace) a name-based UUID of the
// lock's sha256 and the format, and entries come in lock order. Nothing is
// looked up on the network.
//
// # Entries
//
// One entry (CycloneDX component, SPDX package) per lock item:
//
//	item                  type (CycloneDX / SPDX purpose)  package URL
//	image                 container / CONTAINER            pkg:oci/<name>@sha256%3A<hex>?arch=<arch>&repository_url=<registry/repository>&tag=<tag>
//	file                  file / FILE                      pkg:generic/<name>?checksum=sha256:<hex>&download_url=<url>
//	Python distribution   library / LIBRARY                pkg:pypi/<project>@<version>?file_name=<wheel or sdist>
//	.deb                  library / LIBRARY                pkg:deb/<vendor>/<name>@<version>?arch=<arch>
//
// An image is named by its upstream repository ("docker.io/openpai/rest-server"),
// its version is its tag (else its digest), its checksum the digest of the
// image manifest the mirror serves under every one of its names; the oci
// purl's name is the repository's last path segment in lower case, with
// repository_url and tag from the manifest's reference. A file has no
// purl type of its own: the generic type names it by its manifest label,
// checksum and URL. A Python distribution's purl names its file, since a
// release has several (one per wheel tag). A .deb's purl namespace is the
// vendor its apt repository's URL names: "ubuntu" for archive.ubuntu.com
// and other ubuntu.com hosts, "debian" for debian.org, "docker" for
// download.docker.com, "nvidia" for nvidia.github.io (see debNamespace).
// A .deb that several apt entries hold (the same URL and checksum) is one
// entry naming each.
//
// Every entry has a SHA-256 checksum (an image's digest algorithm, when
// another) and where it is published: the URL the manifest, package index
// or apt index gave (for an image, the registry API URL of its manifest)
// as CycloneDX externalReference "distribution" and SPDX downloadLocation.
// Where the bytes were actually fetched from (a mirror or the origin),
// and where the mirror serves them, are CycloneDX properties
// ("paimirror:fetched-from", "paimirror:mirror-name", "paimirror:mirror-path",
// "paimirror:apt-repository", ...) and SPDX sourceInfo. The CycloneDX
// metadata component is the manifest (name and sha256), depending on every
// entry; the SPDX document DESCRIBES every package.
//
// Left out: image layers and configs (an image is one entry, its manifest
// digest pinning them all), apt metadata (Release, Packages indexes) and
// signing keys, licenses (the lock does not know them: absent, which
// SPDX 2.3 reads as NOASSERTION).
//
// # Concurrency
//
// Marshal and Write keep no state and may run concurrently.
package sbom
