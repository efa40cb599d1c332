package sbom_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"github.com/package-url/packageurl-go"
	"github.com/santhosh-tekuri/jsonschema/v6"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/v2_3"
	"github.com/spdx/tools-golang/spdxlib"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/sbom"
	"github.com/paimirror/paimirror/manifests"
)

// Entry is what an SBOM must say of one lock item, worked out from the
// lock here independently of the package.
type Entry struct {
	Kind       string // image, file, python, deb
	PURL       packageurl.PackageURL
	SHA256     string
	URL        string // where it is published
	Fetched    string // where the bytes came from
	MirrorRefs []string
}

// Key identifies an entry by its parsed package URL.
func Key(p packageurl.PackageURL) string {
	q := p.Qualifiers.Map()
	var qs []string
	for _, k := range slices.Sorted(maps.Keys(q)) {
		qs = append(qs, k+"="+q[k])
	}
	return fmt.Sprintf("%s|%s|%s|%s|%s", p.Type, p.Namespace, p.Name, p.Version, strings.Join(qs, "&"))
}

// debVendor is the purl namespace expected for the test manifests' apt
// hosts.
var debVendor = map[string]string{
	"archive.ubuntu.com":  "ubuntu",
	"download.docker.com": "docker",
	"nvidia.github.io":    "nvidia",
	"deb.debian.org":      "debian",
}

// Expect lists the entries an SBOM of l must hold, keyed by Key.
func Expect(t *testing.T, l *bundle.Lock) map[string]Entry {
	t.Helper()
	out := map[string]Entry{}
	put := func(e Entry) {
		k := Key(e.PURL)
		if _, dup := out[k]; dup {
			t.Fatalf("two lock items make the purl %s", k)
		}
		out[k] = e
	}
	for _, img := range l.Images {
		ref, err := name.ParseReference(img.Ref)
		if err != nil {
			t.Fatal(err)
		}
		repo := ref.Context()
		registry := repo.RegistryStr()
		if registry == name.DefaultRegistry {
			registry = "docker.io"
		}
		q := map[string]string{"repository_url": registry + "/" + repo.RepositoryStr()}
		if tag, ok := ref.(name.Tag); ok {
			q["tag"] = tag.TagStr()
		}
		if _, arch, ok := strings.Cut(img.Platform, "/"); ok {
			q["arch"], _, _ = strings.Cut(arch, "/")
		}
		api := registry
		if api == "docker.io" {
			api = "registry-1.docker.io"
		}
		put(Entry{Kind: "image", SHA256: img.Digest.Encoded(), Fetched: img.Source, MirrorRefs: img.Names,
			URL:  "https://" + api + "/v2/" + repo.RepositoryStr() + "/manifests/" + string(img.Digest),
			PURL: packageurl.PackageURL{Type: "oci", Name: strings.ToLower(path.Base(repo.RepositoryStr())), Version: string(img.Digest), Qualifiers: packageurl.QualifiersFromMap(q)}})
	}
	for _, f := range l.Files {
		put(Entry{Kind: "file", SHA256: f.SHA256, URL: f.URL, Fetched: f.Source, MirrorRefs: f.Paths,
			PURL: packageurl.PackageURL{Type: "generic", Name: f.Name,
				Qualifiers: packageurl.QualifiersFromMap(map[string]string{"checksum": "sha256:" + f.SHA256, "download_url": f.URL})}})
	}
	for _, f := range l.PythonFiles() {
		put(Entry{Kind: "python", SHA256: f.SHA256, URL: f.URL, Fetched: f.Source,
			PURL: packageurl.PackageURL{Type: "pypi", Name: f.Project, Version: f.Version,
				Qualifiers: packageurl.QualifiersFromMap(map[string]string{"file_name": f.Filename})}})
	}
	if l.Apt != nil {
		arch := map[string]string{}
		for _, r := range l.Apt.Resolutions {
			for _, p := range r.Packages {
				arch[p.Repository+" "+p.Filename] = p.Architecture
			}
		}
		for _, r := range l.Apt.Repositories {
			host := strings.Split(strings.TrimPrefix(strings.TrimPrefix(r.URL, "http://"), "https://"), "/")[0]
			vendor, ok := debVendor[host]
			if !ok {
				t.Fatalf("no vendor known for %s", r.URL)
			}
			for _, f := range r.Files {
				if !strings.HasSuffix(f.Path, ".deb") {
					continue
				}
				pkg, version, _ := strings.Cut(f.Package, "=")
				e := Entry{Kind: "deb", SHA256: f.SHA256, URL: strings.TrimSuffix(r.URL, "/") + "/" + f.Path, Fetched: f.Source,
					MirrorRefs: []string{r.Prefix + "/" + f.Path},
					PURL: packageurl.PackageURL{Type: "deb", Namespace: vendor, Name: pkg, Version: version,
						Qualifiers: packageurl.QualifiersFromMap(map[string]string{"arch": arch[r.Name+" "+f.Path]})}}
				if arch[r.Name+" "+f.Path] == "" {
					// No resolution names it: the file name's
					// (name_version_arch.deb).
					parts := strings.Split(strings.TrimSuffix(path.Base(f.Path), ".deb"), "_")
					e.PURL.Qualifiers = packageurl.QualifiersFromMap(map[string]string{"arch": parts[len(parts)-1]})
				}
				if prev, ok := out[Key(e.PURL)]; ok && prev.URL == e.URL && prev.SHA256 == e.SHA256 {
					prev.MirrorRefs = append(prev.MirrorRefs, e.MirrorRefs...)
					out[Key(e.PURL)] = prev
					continue
				}
				put(e)
			}
		}
	}
	return out
}

// Kinds counts entries by kind.
func Kinds(es map[string]Entry) map[string]int {
	n := map[string]int{}
	for _, e := range es {
		n[e.Kind]++
	}
	return n
}

// DefaultBundle builds the default manifest's default groups (images,
// files, Python packages, and apt repositories from archive.ubuntu.com,
// download.docker.com and nvidia.github.io) from a local upstream.
func DefaultBundle(t *testing.T) *bundle.Bundle {
	t.Helper()
	sel, err := manifests.Default().Select(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := bundletest.Build(t, sel, bundletest.Options{LayerSize: 64})
	return b
}

// TestDefaultBundle writes both SBOMs of a bundle of the default
// manifest, decodes them with the formats' own libraries (cyclonedx-go,
// spdx/tools-golang; package URLs with packageurl-go) and checks that every
// image, file, Python distribution file and .deb of the lock is in each
// exactly once, with its checksum and its origin, and nothing else is.
func TestDefaultBundle(t *testing.T) {
	b := DefaultBundle(t)
	want := Expect(t, b.Lock)
	kinds := Kinds(want)
	for _, k := range []string{"image", "file", "python", "deb"} {
		if kinds[k] == 0 {
			t.Fatalf("the test bundle has no %s: %v", k, kinds)
		}
	}
	vendors := map[string]bool{}
	for _, e := range want {
		if e.Kind == "deb" {
			vendors[e.PURL.Namespace] = true
		}
	}
	if !vendors["ubuntu"] || !vendors["docker"] {
		t.Fatalf("the test bundle lacks Ubuntu's or Docker's .debs: %v", vendors)
	}

	t.Run("cyclonedx", func(t *testing.T) {
		var out bytes.Buffer
		if err := sbom.Write(&out, sbom.CycloneDXJSON, b, sbom.Options{ToolVersion: "v9.9.9"}); err != nil {
			t.Fatal(err)
		}
		CheckCycloneDX(t, out.Bytes(), b.Lock, want, "v9.9.9")
	})
	t.Run("spdx", func(t *testing.T) {
		var out bytes.Buffer
		if err := sbom.Write(&out, sbom.SPDXJSON, b, sbom.Options{ToolVersion: "v9.9.9"}); err != nil {
			t.Fatal(err)
		}
		CheckSPDX(t, out.Bytes(), b.Lock, want, "v9.9.9")
	})
}

// CheckCycloneDX decodes data with cyclonedx-go and checks it against
// the lock.
func CheckCycloneDX(t *testing.T, data []byte, l *bundle.Lock, want map[string]Entry, tool string) {
	t.Helper()
	if err := CycloneDXSchema(t).Validate(mustUnmarshal(t, data)); err != nil {
		t.Errorf("not valid against CycloneDX 1.6's JSON schema: %v", err)
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatalf("cyclonedx-go cannot decode it: %v", err)
	}
	if bom.BOMFormat != cdx.BOMFormat || bom.SpecVersion != cdx.SpecVersion1_6 || bom.Version != 1 {
		t.Errorf("bomFormat %q, specVersion %v, version %d", bom.BOMFormat, bom.SpecVersion, bom.Version)
	}
	if !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(bom.SerialNumber) {
		t.Errorf("serialNumber %q is not a version 5 UUID URN", bom.SerialNumber)
	}
	md := bom.Metadata
	if md == nil || md.Component == nil || md.Tools == nil || md.Tools.Components == nil {
		t.Fatalf("metadata lacks the tool or the main component: %+v", md)
	}
	if ts, err := time.Parse(time.RFC3339, md.Timestamp); err != nil || !ts.Equal(l.Created.Truncate(time.Second)) {
		t.Errorf("timestamp %q (%v), want the lock's %v", md.Timestamp, err, l.Created)
	}
	if tools := *md.Tools.Components; len(tools) != 1 || tools[0].Name != "paimirror" || tools[0].Version != tool {
		t.Errorf("tools %+v", tools)
	}
	if md.Component.Name != l.Manifest.Name || md.Component.Hashes == nil || (*md.Component.Hashes)[0].Value != l.Manifest.SHA256 {
		t.Errorf("main component %+v, want the manifest %s", md.Component, l.Manifest.Name)
	}
	if bom.Components == nil {
		t.Fatal("no components")
	}
	types := map[string]cdx.ComponentType{"image": cdx.ComponentTypeContainer, "file": cdx.ComponentTypeFile,
		"python": cdx.ComponentTypeLibrary, "deb": cdx.ComponentTypeLibrary}
	seen := map[string]bool{}
	refs := map[string]bool{}
	for _, c := range *bom.Components {
		p, err := packageurl.FromString(c.PackageURL)
		if err != nil {
			t.Errorf("component %s: purl %q: %v", c.Name, c.PackageURL, err)
			continue
		}
		k := Key(p)
		e, ok := want[k]
		if !ok {
			t.Errorf("component %s %s: purl %s names no lock item", c.Name, c.Version, c.PackageURL)
			continue
		}
		if seen[k] {
			t.Errorf("purl %s twice", c.PackageURL)
		}
		seen[k] = true
		if refs[c.BOMRef] || c.BOMRef == "" {
			t.Errorf("bom-ref %q empty or twice", c.BOMRef)
		}
		refs[c.BOMRef] = true
		if c.Type != types[e.Kind] {
			t.Errorf("%s: type %s, want %s", c.PackageURL, c.Type, types[e.Kind])
		}
		if c.Name == "" || (e.Kind != "file" && c.Version == "") {
			t.Errorf("%s: name %q, version %q", c.PackageURL, c.Name, c.Version)
		}
		if c.Hashes == nil || len(*c.Hashes) != 1 || (*c.Hashes)[0].Algorithm != cdx.HashAlgoSHA256 || (*c.Hashes)[0].Value != e.SHA256 {
			t.Errorf("%s: hashes %+v, want SHA-256 %s", c.PackageURL, c.Hashes, e.SHA256)
		}
		if c.ExternalReferences == nil || !slices.ContainsFunc(*c.ExternalReferences, func(r cdx.ExternalReference) bool {
			return r.Type == cdx.ERTypeDistribution && r.URL == e.URL
		}) {
			t.Errorf("%s: externalReferences %+v, want distribution %s", c.PackageURL, c.ExternalReferences, e.URL)
		}
		props := map[string][]string{}
		if c.Properties != nil {
			for _, pr := range *c.Properties {
				props[pr.Name] = append(props[pr.Name], pr.Value)
			}
		}
		if !slices.Equal(props["paimirror:fetched-from"], []string{e.Fetched}) {
			t.Errorf("%s: fetched-from %q, want %q", c.PackageURL, props["paimirror:fetched-from"], e.Fetched)
		}
		mirror := props["paimirror:mirror-path"]
		if e.Kind == "image" {
			mirror = props["paimirror:mirror-name"]
		}
		if !slices.Equal(mirror, e.MirrorRefs) {
			t.Errorf("%s: mirror names or paths %q, want %q", c.PackageURL, mirror, e.MirrorRefs)
		}
	}
	for k, e := range want {
		if !seen[k] {
			t.Errorf("no component for the %s %s", e.Kind, k)
		}
	}
	if bom.Dependencies == nil || len(*bom.Dependencies) != 1 {
		t.Fatalf("dependencies %+v, want the main component's", bom.Dependencies)
	}
	d := (*bom.Dependencies)[0]
	if d.Ref != md.Component.BOMRef || d.Dependencies == nil || len(*d.Dependencies) != len(refs) {
		t.Errorf("the main component depends on %d components, want %d", len(*d.Dependencies), len(refs))
	}
	for _, r := range *d.Dependencies {
		if !refs[r] {
			t.Errorf("dependsOn %q names no component", r)
		}
	}
}

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// CycloneDXSchema compiles CycloneDX 1.6's JSON schema (with format
// assertions) from the copy cyclonedx-go's module ships, once. The schemas
// it refers to are loaded from there too: nothing is fetched.
func CycloneDXSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/CycloneDX/cyclonedx-go").Output()
		if err != nil {
			schemaErr = fmt.Errorf("finding cyclonedx-go's module: %v", err)
			return
		}
		dir := filepath.Join(strings.TrimSpace(string(out)), "schema")
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		for id, file := range map[string]string{
			"http://cyclonedx.org/schema/bom-1.6.schema.json":  "bom-1.6.schema.json",
			"http://cyclonedx.org/schema/spdx.schema.json":     "spdx.schema.json",
			"http://cyclonedx.org/schema/jsf-0.82.schema.json": "jsf-0.82.schemax.json",
		} {
			f, err := os.Open(filepath.Join(dir, file))
			if err != nil {
				schemaErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(f)
			f.Close()
			if err == nil {
				err = c.AddResource(id, doc)
			}
			if err != nil {
				schemaErr = fmt.Errorf("%s: %v", file, err)
				return
			}
		}
		schema, schemaErr = c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json")
	})
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	return schema
}

func mustUnmarshal(t *testing.T, data []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// CheckSPDX decodes data with spdx/tools-golang and checks it against the
// lock.
func CheckSPDX(t *testing.T, data []byte, l *bundle.Lock, want map[string]Entry, tool string) {
	t.Helper()
	var doc v2_3.Document
	if err := spdxjson.ReadInto(bytes.NewReader(data), &doc); err != nil {
		t.Fatalf("tools-golang cannot read it: %v", err)
	}
	if doc.SPDXVersion != v2_3.Version || doc.DataLicense != v2_3.DataLicense || doc.SPDXIdentifier != "DOCUMENT" {
		t.Errorf("spdxVersion %q, dataLicense %q, SPDXID %q", doc.SPDXVersion, doc.DataLicense, doc.SPDXIdentifier)
	}
	if doc.DocumentName != l.Manifest.Name || !strings.HasPrefix(doc.DocumentNamespace, "urn:uuid:") {
		t.Errorf("name %q, namespace %q", doc.DocumentName, doc.DocumentNamespace)
	}
	ci := doc.CreationInfo
	if ci == nil || len(ci.Creators) != 1 || ci.Creators[0].CreatorType != "Tool" || ci.Creators[0].Creator != "paimirror-"+tool {
		t.Fatalf("creationInfo %+v", ci)
	}
	if ts, err := time.Parse(time.RFC3339, ci.Created); err != nil || !ts.Equal(l.Created.Truncate(time.Second)) || !strings.HasSuffix(ci.Created, "Z") {
		t.Errorf("created %q (%v), want the lock's %v in UTC", ci.Created, err, l.Created)
	}
	if err := spdxlib.ValidateDocument(&doc); err != nil {
		t.Errorf("tools-golang finds it invalid: %v", err)
	}
	if len(doc.Packages) > 0 {
		described, err := spdxlib.GetDescribedPackageIDs(&doc)
		if err != nil {
			t.Fatal(err)
		}
		if len(described) != len(doc.Packages) {
			t.Errorf("the document describes %d of its %d packages", len(described), len(doc.Packages))
		}
	}
	purposes := map[string]string{"image": "CONTAINER", "file": "FILE", "python": "LIBRARY", "deb": "LIBRARY"}
	seen := map[string]bool{}
	ids := map[string]bool{}
	for _, p := range doc.Packages {
		if ids[string(p.PackageSPDXIdentifier)] {
			t.Errorf("SPDXID %s twice", p.PackageSPDXIdentifier)
		}
		ids[string(p.PackageSPDXIdentifier)] = true
		var purls []string
		for _, r := range p.PackageExternalReferences {
			if r.Category == "PACKAGE-MANAGER" && r.RefType == "purl" {
				purls = append(purls, r.Locator)
			}
		}
		if len(purls) != 1 {
			t.Errorf("package %s: purls %q, want one", p.PackageSPDXIdentifier, purls)
			continue
		}
		pu, err := packageurl.FromString(purls[0])
		if err != nil {
			t.Errorf("package %s: purl %q: %v", p.PackageSPDXIdentifier, purls[0], err)
			continue
		}
		k := Key(pu)
		e, ok := want[k]
		if !ok {
			t.Errorf("package %s: purl %s names no lock item", p.PackageSPDXIdentifier, purls[0])
			continue
		}
		if seen[k] {
			t.Errorf("purl %s twice", purls[0])
		}
		seen[k] = true
		if p.FilesAnalyzed || !p.IsFilesAnalyzedTagPresent {
			t.Errorf("%s: filesAnalyzed %v (present %v), want false", purls[0], p.FilesAnalyzed, p.IsFilesAnalyzedTagPresent)
		}
		if len(p.PackageChecksums) != 1 || p.PackageChecksums[0].Algorithm != "SHA256" || p.PackageChecksums[0].Value != e.SHA256 {
			t.Errorf("%s: checksums %+v, want SHA256 %s", purls[0], p.PackageChecksums, e.SHA256)
		}
		if p.PackageDownloadLocation != e.URL {
			t.Errorf("%s: downloadLocation %q, want %q", purls[0], p.PackageDownloadLocation, e.URL)
		}
		if p.PrimaryPackagePurpose != purposes[e.Kind] || p.PackageName == "" {
			t.Errorf("%s: name %q, purpose %q", purls[0], p.PackageName, p.PrimaryPackagePurpose)
		}
		if !strings.Contains(p.PackageSourceInfo, e.Fetched) {
			t.Errorf("%s: sourceInfo %q does not say it came from %s", purls[0], p.PackageSourceInfo, e.Fetched)
		}
	}
	for k, e := range want {
		if !seen[k] {
			t.Errorf("no package for the %s %s", e.Kind, k)
		}
	}
}

// TestDeterministic checks that one lock gives the same bytes every time,
// also from the bundle opened again, and that another bundle gets another
// document identity.
func TestDeterministic(t *testing.T) {
	m, err := manifests.Parse("small.yaml", []byte(bundletest.SmallManifest))
	if err != nil {
		t.Fatal(err)
	}
	b1, p1 := bundletest.Build(t, m, bundletest.Options{})
	b2, _ := bundletest.Build(t, m, bundletest.Options{})
	again, err := bundle.Open(p1)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for _, f := range sbom.Formats() {
		t.Run(string(f), func(t *testing.T) {
			var x, y, z bytes.Buffer
			for _, w := range []struct {
				out *bytes.Buffer
				b   *bundle.Bundle
			}{{&x, b1}, {&y, again}, {&z, b2}} {
				if err := sbom.Write(w.out, f, w.b, sbom.Options{}); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(x.Bytes(), y.Bytes()) {
				t.Errorf("the same bundle gave different bytes:\n%s\n%s", x.Bytes(), y.Bytes())
			}
			id := regexp.MustCompile(`urn:uuid:[0-9a-f-]+`)
			if a, b := id.Find(x.Bytes()), id.Find(z.Bytes()); a == nil || bytes.Equal(a, b) {
				t.Errorf("two bundles share the document identity %s", a)
			}
		})
	}
}

// TestToolVersion checks that the document names the lock's paimirror as
// its tool unless told another, and "unknown" when the lock names none.
func TestToolVersion(t *testing.T) {
	l := &bundle.Lock{FormatVersion: 1, ToolVersion: "v1.2.3", Manifest: bundle.ManifestInfo{Name: "m", SHA256: strings.Repeat("ab", 32)}}
	for _, c := range []struct {
		name, lock, opt, want string
	}{
		{"lock", "v1.2.3", "", "v1.2.3"},
		{"option", "v1.2.3", "v2.0.0", "v2.0.0"},
		{"none", "", "", "unknown"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l.ToolVersion = c.lock
			data, err := sbom.Marshal(sbom.SPDXJSON, l, []byte("{}"), sbom.Options{ToolVersion: c.opt})
			if err != nil {
				t.Fatal(err)
			}
			CheckSPDX(t, data, l, map[string]Entry{}, c.want)
			data, err = sbom.Marshal(sbom.CycloneDXJSON, l, []byte("{}"), sbom.Options{ToolVersion: c.opt})
			if err != nil {
				t.Fatal(err)
			}
			CheckCycloneDX(t, data, l, map[string]Entry{}, c.want)
		})
	}
}

// TestLockEdges writes the SBOMs of a lock made by hand with what the
// default manifest lacks: an image by digest only and one with no
// registry, a file whose URL needs escaping in a purl, and a .deb that two
// apt entries hold (one entry), with no resolution naming it (its
// architecture from its file name).
func TestLockEdges(t *testing.T) {
	h := func(c byte) string { return strings.Repeat(string(c), 64) }
	l := &bundle.Lock{FormatVersion: 1, ToolVersion: "v1.0.0", Created: time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", 3600)),
		Manifest: bundle.ManifestInfo{Name: "edges", SHA256: h('0')},
		Images: []bundle.Image{
			{Ref: "quay.io/coreos/etcd@sha256:" + h('1'), Source: "quay.io/coreos/etcd", Digest: digest.Digest("sha256:" + h('2')), IndexDigest: digest.Digest("sha256:" + h('1')),
				Platform: "linux/amd64", Names: []string{"coreos/etcd:pinned"}},
			{Ref: "busybox:1.31.1", Source: "mirror.example/library/busybox", Digest: digest.Digest("sha256:" + h('3')), Names: []string{"library/busybox:1.31.1", "busybox:latest"}},
		},
		Files: []bundle.File{{Name: "tool & co", URL: "https://example.com/dl/tool.tgz?version=1&os=linux", Source: "https://mirror.example/tool.tgz",
			SHA256: h('4'), Paths: []string{"/example.com/dl/tool.tgz"}, Unpinned: true}},
		Apt: &bundle.Apt{Repositories: []bundle.AptRepository{
			{Name: "ubuntu-bionic", URL: "http://archive.ubuntu.com/ubuntu", Prefix: "/archive.ubuntu.com/ubuntu", Files: []bundle.AptFile{
				{Path: "dists/bionic/InRelease", SHA256: h('5'), Source: "x"},
				{Path: "pool/main/t/tzdata/tzdata_2024a-0ubuntu0.18.04_all.deb", SHA256: h('6'), Source: "http://m/tzdata.deb", Package: "tzdata=2024a-0ubuntu0.18.04"}}},
			{Name: "ubuntu-bionic-again", URL: "http://archive.ubuntu.com/ubuntu/", Prefix: "/again", Files: []bundle.AptFile{
				{Path: "pool/main/t/tzdata/tzdata_2024a-0ubuntu0.18.04_all.deb", SHA256: h('6'), Source: "http://n/tzdata.deb", Package: "tzdata=2024a-0ubuntu0.18.04"}}},
		}},
	}
	want := Expect(t, l)
	if n := Kinds(want); n["image"] != 2 || n["file"] != 1 || n["deb"] != 1 {
		t.Fatalf("expected entries %v", n)
	}
	data, err := sbom.Marshal(sbom.CycloneDXJSON, l, []byte(`{"formatVersion":1}`), sbom.Options{})
	if err != nil {
		t.Fatal(err)
	}
	CheckCycloneDX(t, data, l, want, "v1.0.0")
	if !bytes.Contains(data, []byte(`"timestamp": "2024-05-06T06:08:09Z"`)) {
		t.Errorf("the timestamp is not the lock's in UTC, whole seconds:\n%s", data)
	}
	if !bytes.Contains(data, []byte(`"name": "paimirror:unpinned"`)) || !bytes.Contains(data, []byte(`"value": "ubuntu-bionic-again"`)) {
		t.Errorf("the unpinned file or the second apt entry is not said:\n%s", data)
	}
	data, err = sbom.Marshal(sbom.SPDXJSON, l, []byte(`{"formatVersion":1}`), sbom.Options{})
	if err != nil {
		t.Fatal(err)
	}
	CheckSPDX(t, data, l, want, "v1.0.0")
	if !bytes.Contains(data, []byte(`"packageFileName": "tool.tgz"`)) {
		t.Errorf("the file's packageFileName is not the URL path's last element:\n%s", data)
	}

	l.Images[0].Digest = digest.Digest("md5:" + h('1')[:32])
	if _, err := sbom.Marshal(sbom.SPDXJSON, l, nil, sbom.Options{}); err == nil || !strings.Contains(err.Error(), "sha256, sha384 or sha512") {
		t.Errorf("an md5 digest: %v", err)
	}
}

func TestUnknownFormat(t *testing.T) {
	_, err := sbom.Marshal("spdx-tag-value", &bundle.Lock{FormatVersion: 1}, nil, sbom.Options{})
	if !errors.Is(err, sbom.ErrUnknownFormat) || !strings.Contains(err.Error(), "spdx-json, cyclonedx-json") {
		t.Fatalf("got %v, want ErrUnknownFormat listing the formats", err)
	}
}
