package sbom

import "cmp"

// The CycloneDX 1.6 JSON document (https://cyclonedx.org/docs/1.6/json/),
// only the fields written.

type cdxBOM struct {
	BOMFormat    string          `json:"bomFormat"`
	SpecVersion  string          `json:"specVersion"`
	SerialNumber string          `json:"serialNumber"`
	Version      int             `json:"version"`
	Metadata     cdxMetadata     `json:"metadata"`
	Components   []cdxComponent  `json:"components"`
	Dependencies []cdxDependency `json:"dependencies"`
}

type cdxMetadata struct {
	Timestamp  string        `json:"timestamp"`
	Tools      cdxTools      `json:"tools"`
	Component  cdxComponent  `json:"component"`
	Properties []cdxProperty `json:"properties,omitempty"`
}

type cdxTools struct {
	Components []cdxComponent `json:"components"`
}

type cdxComponent struct {
	BOMRef             string        `json:"bom-ref,omitempty"`
	Type               string        `json:"type"`
	Name               string        `json:"name"`
	Version            string        `json:"version,omitempty"`
	Description        string        `json:"description,omitempty"`
	Hashes             []cdxHash     `json:"hashes,omitempty"`
	PURL               string        `json:"purl,omitempty"`
	ExternalReferences []cdxExtRef   `json:"externalReferences,omitempty"`
	Properties         []cdxProperty `json:"properties,omitempty"`
}

type cdxHash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

type cdxExtRef struct {
	Type    string `json:"type"`
	URL     string `json:"url"`
	Comment string `json:"comment,omitempty"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cdxDependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

// cdxAlg maps a digest algorithm to CycloneDX's name for it.
var cdxAlg = map[string]string{"sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}

// cdxType maps a kind to the component type.
var cdxType = map[kind]string{kindImage: "container", kindFile: "file", kindPython: "library", kindDeb: "library"}

func (d doc) cycloneDX() cdxBOM {
	l := d.lock
	main := cdxComponent{BOMRef: "paimirror:manifest:" + l.Manifest.Name, Type: "application", Name: l.Manifest.Name,
		Description: "paimirror bundle built from manifest " + l.Manifest.Name}
	if l.Manifest.SHA256 != "" {
		main.Hashes = []cdxHash{{Alg: "SHA-256", Content: l.Manifest.SHA256}}
	}
	bom := cdxBOM{
		BOMFormat: "CycloneDX", SpecVersion: "1.6", SerialNumber: "urn:uuid:" + d.uuid(CycloneDXJSON), Version: 1,
		Metadata: cdxMetadata{
			Timestamp: d.created(),
			Tools:     cdxTools{Components: []cdxComponent{{Type: "application", Name: "paimirror", Version: d.opts.ToolVersion}}},
			Component: main,
			Properties: []cdxProperty{{propLockSHA256, d.lockSHA256}, {propManifestSrc, l.Manifest.Source},
				{propBuiltBy, "paimirror " + cmp.Or(l.ToolVersion, "unknown")}},
		},
		Components: []cdxComponent{},
	}
	dep := cdxDependency{Ref: main.BOMRef, DependsOn: []string{}}
	for _, it := range d.items {
		c := cdxComponent{BOMRef: it.id, Type: cdxType[it.kind], Name: it.name, Version: it.version, PURL: it.purl}
		if a, ok := cdxAlg[it.alg]; ok {
			c.Hashes = []cdxHash{{Alg: a, Content: it.hex}}
		}
		if it.url != "" {
			c.ExternalReferences = []cdxExtRef{{Type: "distribution", URL: it.url}}
		}
		for _, p := range it.props {
			c.Properties = append(c.Properties, cdxProperty{p[0], p[1]})
		}
		bom.Components = append(bom.Components, c)
		dep.DependsOn = append(dep.DependsOn, it.id)
	}
	bom.Dependencies = []cdxDependency{dep}
	return bom
}
