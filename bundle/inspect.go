package bundle

import (
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
)

// Summary is what a bundle holds, for people and scripts. Its JSON form
// (`paimirror inspect -o json`) is stable: fields are only ever added.
type Summary struct {
	FormatVersion int         `json:"formatVersion"`
	ToolVersion   string      `json:"toolVersion"`
	Created       time.Time   `json:"created"`
	Manifest      ManifestRef `json:"manifest"`
	Images        []ImageInfo `json:"images"`
	Files         []FileInfo  `json:"files"`
	// PythonFiles are the Python packages' files, when the bundle has any.
	PythonFiles []PythonFileInfo `json:"pythonFiles,omitempty"`
	// Apt are the apt repositories, when the bundle has any.
	Apt    []AptInfo     `json:"apt,omitempty"`
	Totals SummaryTotals `json:"totals"`
	// Base, for a delta bundle, names its base (Lock.Base).
	Base *BaseRef `json:"base,omitempty"`
	// Changes, for a delta bundle, is what it brings over its base
	// (Bundle.Changes).
	Changes *Changes `json:"changes,omitempty"`
}

// AptInfo is one apt repository in a Summary.
type AptInfo struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	URL    string `json:"url"`
	// Prefix is the mirror path it is served under.
	Prefix     string   `json:"prefix"`
	Suites     []string `json:"suites"`
	Components []string `json:"components"`
	// Architectures are the dpkg architectures mirrored.
	Architectures []string `json:"architectures"`
	// Flat marks a flat repository ("deb URL ./").
	Flat bool `json:"flat,omitempty"`
	// Sources reports whether install adds it to the nodes' apt sources.
	Sources bool `json:"sources"`
	// KeyPath is the mirror path of its signing key.
	KeyPath string `json:"keyPath"`
	// Packages are the .deb files ("name=version"), sorted.
	Packages []string `json:"packages"`
	// Size is its metadata and .deb files together, in bytes.
	Size int64 `json:"size"`
}

// ManifestRef names the manifest a bundle was built from.
type ManifestRef struct {
	Name     string   `json:"name"`
	Source   string   `json:"source"`
	SHA256   string   `json:"sha256"`
	Include  []string `json:"include,omitempty"`
	Exclude  []string `json:"exclude,omitempty"`
	Platform string   `json:"platform,omitempty"`
}

// ImageInfo is one image in a Summary.
type ImageInfo struct {
	Ref         string        `json:"ref"`
	Names       []string      `json:"names"`
	Digest      digest.Digest `json:"digest"`
	IndexDigest digest.Digest `json:"indexDigest,omitempty"`
	MediaType   string        `json:"mediaType"`
	Platform    string        `json:"platform,omitempty"`
	// Size is the manifest, config and layers together, in bytes.
	Size int64 `json:"size"`
}

// FileInfo is one file in a Summary.
type FileInfo struct {
	Name   string   `json:"name"`
	URL    string   `json:"url"`
	Paths  []string `json:"paths"`
	Size   int64    `json:"size"`
	SHA256 string   `json:"sha256"`
}

// PythonFileInfo is one Python package file in a Summary.
type PythonFileInfo struct {
	Project  string `json:"project"`
	Version  string `json:"version"`
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	// Targets are the python targets whose installs need the file.
	Targets []string `json:"targets"`
}

// SummaryTotals sums a Summary up.
type SummaryTotals struct {
	Images int `json:"images"`
	Files  int `json:"files"`
	// PythonFiles and PythonProjects count the Python package files and
	// the projects they belong to.
	PythonFiles    int `json:"pythonFiles"`
	PythonProjects int `json:"pythonProjects"`
	// AptRepositories and AptPackages count the apt repositories and
	// their .deb files.
	AptRepositories int `json:"aptRepositories"`
	AptPackages     int `json:"aptPackages"`
	Blobs           int `json:"blobs"`
	// BundleBytes is the size of the bundle file(s).
	BundleBytes int64 `json:"bundleBytes"`
	// SharedBytes is what sharing blobs between images saved.
	SharedBytes int64 `json:"sharedBytes"`
}

// Summary describes the bundle's content.
func (b *Bundle) Summary() Summary {
	l := b.Lock
	s := Summary{
		FormatVersion: l.FormatVersion, ToolVersion: l.ToolVersion, Created: l.Created,
		Manifest: ManifestRef{Name: l.Manifest.Name, Source: l.Manifest.Source, SHA256: l.Manifest.SHA256,
			Include: l.Manifest.Include, Exclude: l.Manifest.Exclude, Platform: l.Manifest.Platform},
		Images: []ImageInfo{}, Files: []FileInfo{},
	}
	for _, img := range l.Images {
		size := img.Size
		for _, bl := range img.Blobs() {
			size += bl.Size
		}
		s.Images = append(s.Images, ImageInfo{Ref: img.Ref, Names: img.Names, Digest: img.Digest,
			IndexDigest: img.IndexDigest, MediaType: img.MediaType, Platform: img.Platform, Size: size})
	}
	for _, f := range l.Files {
		s.Files = append(s.Files, FileInfo{Name: f.Name, URL: f.URL, Paths: f.Paths, Size: f.Size, SHA256: f.SHA256})
	}
	projects := map[string]bool{}
	if l.Python != nil {
		targets := map[string][]string{} // filename → targets needing it
		for _, r := range l.Python.Resolutions {
			for _, g := range r.Groups {
				for _, p := range g.Packages {
					if !slices.Contains(targets[p.Filename], r.Target) {
						targets[p.Filename] = append(targets[p.Filename], r.Target)
					}
				}
			}
		}
		for _, f := range l.Python.Files {
			projects[f.Project] = true
			s.PythonFiles = append(s.PythonFiles, PythonFileInfo{Project: f.Project, Version: f.Version, Filename: f.Filename,
				Size: f.Size, SHA256: f.SHA256, Targets: append([]string{}, targets[f.Filename]...)})
		}
	}
	debs := 0
	for _, r := range l.AptRepositories() {
		ai := AptInfo{Name: r.Name, Target: r.Target, URL: r.URL, Prefix: r.Prefix, Suites: r.Suites, Components: r.Components,
			Architectures: r.Architectures, Flat: r.Flat, Sources: r.Sources, Packages: []string{}}
		for _, k := range l.Apt.Keys {
			if k.URL == r.KeyURL {
				ai.KeyPath = k.Path
			}
		}
		for _, f := range r.Files {
			ai.Size += f.Size
			if f.Package != "" {
				ai.Packages = append(ai.Packages, f.Package)
			}
		}
		slices.Sort(ai.Packages)
		debs += len(ai.Packages)
		s.Apt = append(s.Apt, ai)
	}
	s.Totals = SummaryTotals{Images: len(l.Images), Files: len(l.Files), Blobs: len(b.blobs),
		PythonFiles: len(s.PythonFiles), PythonProjects: len(projects),
		AptRepositories: len(s.Apt), AptPackages: debs,
		BundleBytes: b.Size, SharedBytes: sharedBytes(l)}
	s.Base, s.Changes = l.Base, b.Changes()
	return s
}

// HumanSize formats a size in binary units for people: "1023 B",
// "1.5 KiB", "5.0 GiB".
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
