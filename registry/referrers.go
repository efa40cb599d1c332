package registry

import (
	"encoding/json"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// distribution v3.1 has no referrers API (OCI distribution-spec 1.1). The
// registry adds it in front of distribution: GET /v2/<name>/referrers/<digest>
// lists the manifests of <name> whose subject is <digest>, found by reading
// the repository's manifest revisions through the storage driver (each
// manifest is parsed once; manifests are immutable). A manifest pushed with
// a subject gets the OCI-Subject header on its 201 answer, which tells
// clients that the registry indexes referrers itself.

var referrersRegexp = regexp.MustCompile(`^/v2/(` + reference.NameRegexp.String() + `)/referrers/([^/]+)$`)

// referrersPath reports whether p is a referrers request and splits it.
func referrersPath(p string) (name, dgst string, ok bool) {
	m := referrersRegexp.FindStringSubmatch(p)
	if m == nil {
		return "", "", false
	}
	return m[1], m[len(m)-1], true
}

// manifestInfo is what the referrers API needs of a manifest.
type manifestInfo struct {
	desc    ocispec.Descriptor
	subject string
}

// parseManifest reads the fields of an image manifest or index that a
// referrers answer carries.
func parseManifest(d digest.Digest, data []byte) manifestInfo {
	var m struct {
		MediaType    string `json:"mediaType"`
		ArtifactType string `json:"artifactType"`
		Config       *struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
		Subject *struct {
			Digest string `json:"digest"`
		} `json:"subject"`
		Annotations map[string]string `json:"annotations"`
	}
	if json.Unmarshal(data, &m) != nil {
		return manifestInfo{}
	}
	info := manifestInfo{desc: ocispec.Descriptor{
		MediaType:    m.MediaType,
		Digest:       d,
		Size:         int64(len(data)),
		ArtifactType: m.ArtifactType,
		Annotations:  m.Annotations,
	}}
	if info.desc.ArtifactType == "" && m.Config != nil && m.MediaType == ocispec.MediaTypeImageManifest {
		info.desc.ArtifactType = m.Config.MediaType
	}
	if m.Subject != nil {
		info.subject = m.Subject.Digest
	}
	return info
}

// serveReferrers answers the referrers API.
func (r *Registry) serveReferrers(w http.ResponseWriter, req *http.Request, name, dgst string) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		serveError(w, errcode.ErrorCodeUnsupported.WithDetail("the referrers API is read-only"))
		return
	}
	subject, err := digest.Parse(dgst)
	if err != nil {
		serveError(w, errcode.ErrorCodeDigestInvalid.WithDetail(err.Error()))
		return
	}
	ctx := req.Context()
	dir := path.Join(reposRoot, name, "_manifests/revisions")
	algs, _ := r.driver.List(ctx, dir) // an unknown repository has no referrers
	var found []ocispec.Descriptor
	filter := req.URL.Query().Get("artifactType")
	for _, alg := range algs {
		revs, err := r.driver.List(ctx, alg)
		if err != nil {
			continue
		}
		for _, rev := range revs {
			d := digest.NewDigestFromEncoded(digest.Algorithm(path.Base(alg)), path.Base(rev))
			if d.Validate() != nil {
				continue
			}
			// A deleted manifest leaves its revision directory behind
			// without a link.
			if _, err := r.driver.Stat(ctx, path.Join(rev, "link")); err != nil {
				continue
			}
			info, ok := r.manifestInfo(req, d)
			if !ok || info.subject != subject.String() {
				continue
			}
			if filter != "" && info.desc.ArtifactType != filter {
				continue
			}
			found = append(found, info.desc)
		}
	}
	slices.SortFunc(found, func(a, b ocispec.Descriptor) int { return strings.Compare(a.Digest.String(), b.Digest.String()) })
	if found == nil {
		found = []ocispec.Descriptor{}
	}
	body, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: found,
	})
	if err != nil {
		serveError(w, errcode.ErrorCodeUnknown.WithDetail(err.Error()))
		return
	}
	if filter != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	w.WriteHeader(http.StatusOK)
	if req.Method == http.MethodGet {
		w.Write(body)
	}
}

// manifestInfo returns the parsed manifest d, from the cache or the driver.
func (r *Registry) manifestInfo(req *http.Request, d digest.Digest) (manifestInfo, bool) {
	if v, ok := r.subjects.Load(d); ok {
		return v.(manifestInfo), true
	}
	data, err := r.driver.GetContent(req.Context(), blobDataPath(d))
	if err != nil || digest.FromBytes(data) != d && d.Algorithm() == digest.SHA256 {
		return manifestInfo{}, false
	}
	info := parseManifest(d, data)
	r.subjects.Store(d, info)
	return info, true
}

// noteSubject arranges for the push of the manifest body whose manifest
// has a subject to answer with the OCI-Subject header.
func (r *Registry) noteSubject(w *recorder, body []byte) {
	var mf struct {
		Subject *struct {
			Digest string `json:"digest"`
		} `json:"subject"`
	}
	if json.Unmarshal(body, &mf) != nil || mf.Subject == nil || mf.Subject.Digest == "" {
		return
	}
	w.onCreated = func(h http.Header) { h.Set("OCI-Subject", mf.Subject.Digest) }
}
