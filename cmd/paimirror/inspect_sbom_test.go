package main

import (
	"bytes"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/package-url/packageurl-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/manifests"
)

// lockItems lists, by "purl type sha256", every image, file, Python
// distribution file and .deb of l, counting each .deb that several apt
// entries hold (same URL and sha256) once.
func lockItems(l *bundle.Lock) map[string]int {
	out := map[string]int{}
	for _, img := range l.Images {
		out["oci "+img.Digest.Encoded()]++
	}
	for _, f := range l.Files {
		out["generic "+f.SHA256]++
	}
	for _, f := range l.PythonFiles() {
		out["pypi "+f.SHA256]++
	}
	seen := map[string]bool{}
	for _, r := range l.AptRepositories() {
		for _, f := range r.Files {
			key := strings.TrimSuffix(r.URL, "/") + "/" + f.Path + " " + f.SHA256
			if f.Package != "" && !seen[key] {
				seen[key] = true
				out["deb "+f.SHA256]++
			}
		}
	}
	return out
}

// TestInspectSBOM runs `paimirror inspect -o cyclonedx-json` and
// `-o spdx-json` on a bundle of the default manifest (images, files,
// Python packages, .debs from Ubuntu's, Docker's and NVIDIA's repositories)
// and reads what they print with cyclonedx-go and spdx/tools-golang: every
// lock item is there once, under a purl of its type with its sha256, and a
// second run prints the same bytes.
func TestInspectSBOM(t *testing.T) {
	sel, err := manifests.Default().Select(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, path := bundletest.Build(t, sel, bundletest.Options{LayerSize: 64})
	want := lockItems(b.Lock)
	for _, k := range []string{"oci", "generic", "pypi", "deb"} {
		n := 0
		for key, c := range want {
			if strings.HasPrefix(key, k+" ") {
				n += c
			}
		}
		if n == 0 {
			t.Fatalf("the test bundle has no %s item", k)
		}
	}

	inspect := func(t *testing.T, format string) []byte {
		t.Helper()
		cmd := paimirror(t, "inspect", "-o", format, path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("inspect -o %s: %v\n%s", format, err, stderr.Bytes())
		}
		if stderr.Len() > 0 {
			t.Errorf("inspect -o %s wrote to stderr: %s", format, stderr.Bytes())
		}
		if again, err := paimirror(t, "inspect", "-o", format, path).Output(); err != nil || !bytes.Equal(again, out) {
			t.Errorf("a second inspect -o %s printed other bytes (%v)", format, err)
		}
		return out
	}
	check := func(t *testing.T, purls, sums []string) {
		t.Helper()
		got := map[string]int{}
		for i, s := range purls {
			p, err := packageurl.FromString(s)
			if err != nil {
				t.Errorf("purl %q: %v", s, err)
				continue
			}
			got[p.Type+" "+sums[i]]++
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s: %d entries, want %d", k, got[k], n)
			}
		}
		for k := range got {
			if want[k] == 0 {
				t.Errorf("%s: not a lock item", k)
			}
		}
	}

	t.Run("cyclonedx-json", func(t *testing.T) {
		var bom cdx.BOM
		if err := cdx.NewBOMDecoder(bytes.NewReader(inspect(t, "cyclonedx-json")), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
			t.Fatalf("cyclonedx-go: %v", err)
		}
		if bom.SpecVersion != cdx.SpecVersion1_6 || bom.Metadata == nil || bom.Metadata.Component == nil ||
			bom.Metadata.Component.Name != "openpai-v1.8.0" || bom.Components == nil {
			t.Fatalf("spec %v, metadata %+v", bom.SpecVersion, bom.Metadata)
		}
		if tools := bom.Metadata.Tools; tools == nil || tools.Components == nil || (*tools.Components)[0].Version != toolVersion() {
			t.Errorf("tools %+v, want paimirror %s", tools, toolVersion())
		}
		var purls, sums []string
		for _, c := range *bom.Components {
			sum := ""
			if c.Hashes != nil && len(*c.Hashes) == 1 && (*c.Hashes)[0].Algorithm == cdx.HashAlgoSHA256 {
				sum = (*c.Hashes)[0].Value
			}
			purls, sums = append(purls, c.PackageURL), append(sums, sum)
		}
		check(t, purls, sums)
	})
	t.Run("spdx-json", func(t *testing.T) {
		var doc v2_3.Document
		if err := spdxjson.ReadInto(bytes.NewReader(inspect(t, "spdx-json")), &doc); err != nil {
			t.Fatalf("tools-golang: %v", err)
		}
		if doc.SPDXVersion != v2_3.Version || doc.DocumentName != "openpai-v1.8.0" || doc.CreationInfo == nil ||
			len(doc.CreationInfo.Creators) != 1 || doc.CreationInfo.Creators[0].Creator != "paimirror-"+toolVersion() {
			t.Fatalf("spdxVersion %q, name %q, creationInfo %+v", doc.SPDXVersion, doc.DocumentName, doc.CreationInfo)
		}
		var purls, sums []string
		for _, p := range doc.Packages {
			sum, purl := "", ""
			if len(p.PackageChecksums) == 1 && p.PackageChecksums[0].Algorithm == "SHA256" {
				sum = p.PackageChecksums[0].Value
			}
			for _, r := range p.PackageExternalReferences {
				if r.RefType == "purl" {
					purl = r.Locator
				}
			}
			purls, sums = append(purls, purl), append(sums, sum)
		}
		check(t, purls, sums)
	})
	t.Run("help", func(t *testing.T) {
		out, err := paimirror(t, "inspect", "--help").Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range inspectFormats() {
			if !strings.Contains(string(out), f) {
				t.Errorf("inspect --help does not name -o %s:\n%s", f, out)
			}
		}
	})
}
