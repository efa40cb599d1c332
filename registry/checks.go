package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	v2 "github.com/distribution/distribution/v3/registry/api/v2"
	"github.com/gorilla/mux"
	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/fileserver/logclip"
)

// manifestPush reports whether req pushes a manifest (PUT
// /v2/<name>/manifests/<reference>).
func manifestPush(req *http.Request) bool {
	if req.Method != http.MethodPut {
		return false
	}
	var m mux.RouteMatch
	return v2.Router().Match(req, &m) && m.Route != nil && m.Route.GetName() == v2.RouteNameManifest
}

// peekBody reads a manifest push's body (up to one byte more than
// distribution accepts, so it still refuses a larger one) and puts it back
// for the next reader.
func peekBody(req *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(req.Body, maxManifestBody+1))
	req.Body = io.NopCloser(bytes.NewReader(body))
	return body, err
}

// descriptor is the part of an OCI descriptor the size check reads.
type descriptor struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// wrongSizes answers a manifest push whose descriptors (config, layers,
// an index's manifests, an artifact's blobs) give another size than the
// blob the registry holds under that digest, pushed or from the bundle,
// with 400 MANIFEST_INVALID naming each, and reports whether it did.
// distribution checks only that the blobs exist, so such a manifest would
// be stored and then fail every pull. Blobs the registry does not hold are
// left to distribution (MANIFEST_BLOB_UNKNOWN; a foreign layer with URLs
// may be absent). It costs one Stat per descriptor.
func (r *Registry) wrongSizes(w http.ResponseWriter, req *http.Request, body []byte) bool {
	var mf struct {
		Config    *descriptor  `json:"config"`
		Layers    []descriptor `json:"layers"`
		Manifests []descriptor `json:"manifests"`
		Blobs     []descriptor `json:"blobs"`
	}
	if json.Unmarshal(body, &mf) != nil {
		return false // distribution explains what is wrong with it
	}
	var problems []string
	check := func(what string, d descriptor) {
		dg, err := digest.Parse(d.Digest)
		if err != nil {
			return
		}
		fi, err := r.driver.Stat(req.Context(), blobDataPath(dg))
		if err != nil || fi.IsDir() || fi.Size() == d.Size {
			return
		}
		problems = append(problems, fmt.Sprintf("%s %s has size %d in the manifest, but the blob is %d bytes", what, d.Digest, d.Size, fi.Size()))
	}
	if mf.Config != nil {
		check("config", *mf.Config)
	}
	for i, d := range mf.Layers {
		check(fmt.Sprintf("layers[%d]", i), d)
	}
	for i, d := range mf.Manifests {
		check(fmt.Sprintf("manifests[%d]", i), d)
	}
	for i, d := range mf.Blobs {
		check(fmt.Sprintf("blobs[%d]", i), d)
	}
	if len(problems) == 0 {
		return false
	}
	serveError(w, errcode.ErrorCodeManifestInvalid.WithDetail(strings.Join(problems, "; ")+"; correct the sizes in the manifest and push it again"))
	return true
}

// maxHeldBody bounds how much of a server error's body is kept for the log.
const maxHeldBody = 64 << 10

// answerServerError sends the client the server error rec held back: the
// same status and registry error codes, with distribution's messages and
// details (which carry the server's paths, such as the writable
// directory's) replaced, and logs what was held back.
func (r *Registry) answerServerError(rec *recorder, req *http.Request) {
	held := rec.held.Bytes()
	r.log.LogAttrs(req.Context(), slog.LevelError, "registry request failed; the client was told only the error code",
		slog.String("method", req.Method),
		slog.String("path", logclip.Clip(req.URL.RequestURI())),
		slog.Int("status", rec.status),
		slog.String("error", strings.TrimSpace(string(held))),
	)
	var parsed struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(held, &parsed)
	var errs errcode.Errors
	for _, e := range parsed.Errors {
		errs = append(errs, errcode.ParseErrorCode(e.Code).WithDetail("the server's log says why"))
	}
	if len(errs) == 0 {
		errs = append(errs, errcode.ErrorCodeUnknown.WithDetail("the server's log says why"))
	}
	body, _ := json.Marshal(errs)
	h := rec.ResponseWriter.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json; charset=utf-8")
	rec.ResponseWriter.WriteHeader(rec.status)
	if req.Method != http.MethodHead {
		n, _ := rec.ResponseWriter.Write(append(body, '\n'))
		rec.written += int64(n)
	}
}
