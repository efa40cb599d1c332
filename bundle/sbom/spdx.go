package sbom

import "fmt"

// The SPDX 2.3 JSON document (https://spdx.github.io/spdx-spec/v2.3/),
// only the fields written.

type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	Comment           string             `json:"comment,omitempty"`
	CreationInfo      spdxCreationInfo   `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	SPDXID                string            `json:"SPDXID"`
	Name                  string            `json:"name"`
	VersionInfo           string            `json:"versionInfo,omitempty"`
	PackageFileName       string            `json:"packageFileName,omitempty"`
	DownloadLocation      string            `json:"downloadLocation"`
	FilesAnalyzed         bool              `json:"filesAnalyzed"`
	Checksums             []spdxChecksum    `json:"checksums,omitempty"`
	SourceInfo            string            `json:"sourceInfo,omitempty"`
	ExternalRefs          []spdxExternalRef `json:"externalRefs,omitempty"`
	PrimaryPackagePurpose string            `json:"primaryPackagePurpose,omitempty"`
}

type spdxChecksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

type spdxExternalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	SPDXElementID      string `json:"spdxElementId"`
	RelationshipType   string `json:"relationshipType"`
	RelatedSPDXElement string `json:"relatedSpdxElement"`
}

// spdxAlg maps a digest algorithm to SPDX's name for it.
var spdxAlg = map[string]string{"sha256": "SHA256", "sha384": "SHA384", "sha512": "SHA512"}

// spdxKind gives each kind its SPDXID prefix and package purpose.
var spdxKind = map[kind]struct{ id, purpose string }{
	kindImage:  {"SPDXRef-image-", "CONTAINER"},
	kindFile:   {"SPDXRef-file-", "FILE"},
	kindPython: {"SPDXRef-python-", "LIBRARY"},
	kindDeb:    {"SPDXRef-deb-", "LIBRARY"},
}

func (d doc) spdx() spdxDocument {
	s := spdxDocument{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name:              d.lock.Manifest.Name,
		DocumentNamespace: "urn:uuid:" + d.uuid(SPDXJSON),
		Comment:           d.describe(),
		CreationInfo:      spdxCreationInfo{Created: d.created(), Creators: []string{"Tool: paimirror-" + d.opts.ToolVersion}},
		Packages:          []spdxPackage{},
		Relationships:     []spdxRelationship{},
	}
	n := map[kind]int{}
	for _, it := range d.items {
		k := spdxKind[it.kind]
		n[it.kind]++
		p := spdxPackage{SPDXID: fmt.Sprintf("%s%d", k.id, n[it.kind]), Name: it.name, VersionInfo: it.version,
			PackageFileName: it.fileName, DownloadLocation: it.url, SourceInfo: it.origin, PrimaryPackagePurpose: k.purpose,
			ExternalRefs: []spdxExternalRef{{ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl", ReferenceLocator: it.purl}}}
		if p.DownloadLocation == "" {
			p.DownloadLocation = "NOASSERTION"
		}
		if a, ok := spdxAlg[it.alg]; ok {
			p.Checksums = []spdxChecksum{{Algorithm: a, ChecksumValue: it.hex}}
		}
		s.Packages = append(s.Packages, p)
		s.Relationships = append(s.Relationships, spdxRelationship{SPDXElementID: s.SPDXID, RelationshipType: "DESCRIBES", RelatedSPDXElement: p.SPDXID})
	}
	return s
}
