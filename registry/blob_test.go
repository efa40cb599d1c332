package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/manifests"
)

// kernelWriter is a ResponseWriter that, like net/http's response, takes a
// reader (ReadFrom) and records whether it was handed a file, which
// net/http passes to sendfile(2).
type kernelWriter struct {
	*httptest.ResponseRecorder
	gotFile bool
}

func (w *kernelWriter) ReadFrom(src io.Reader) (int64, error) {
	if lr, ok := src.(*io.LimitedReader); ok {
		if _, ok := lr.R.(*os.File); ok {
			w.gotFile = true
		}
	}
	return io.Copy(w.ResponseRecorder, src)
}

// TestBlobSentByKernel checks that a blob's bytes reach the client's
// writer as a file, which net/http sends with sendfile(2) (distribution
// copies them through its own writers), whole and ranged, with the right
// bytes; and that HEAD sends none.
func TestBlobSentByKernel(t *testing.T) {
	f := smallBundle(t)
	r, err := New(t.Context(), f.b)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	img := f.b.Lock.Images[0]
	layer := img.Layers[len(img.Layers)-1]
	want, err := f.b.ReadBlob(layer.Digest, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := manifests.RepoTag(img.Names[0])
	u := "/v2/" + repo + "/blobs/" + string(layer.Digest)
	for _, tc := range []struct {
		name, method, rng string
		status            int
		body              []byte
	}{
		{"whole", http.MethodGet, "", http.StatusOK, want},
		{"range", http.MethodGet, "bytes=100-", http.StatusPartialContent, want[100:]},
		{"whole again", http.MethodGet, "", http.StatusOK, want},
		{"head", http.MethodHead, "", http.StatusOK, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, u, nil)
			if tc.rng != "" {
				req.Header.Set("Range", tc.rng)
			}
			w := &kernelWriter{ResponseRecorder: httptest.NewRecorder()}
			r.ServeHTTP(w, req)
			if w.Code != tc.status || !bytes.Equal(w.Body.Bytes(), tc.body) {
				t.Fatalf("%d with %d bytes, want %d with %d", w.Code, w.Body.Len(), tc.status, len(tc.body))
			}
			if wantFile := tc.body != nil; w.gotFile != wantFile {
				t.Errorf("the body went out as a file: %v, want %v", w.gotFile, wantFile)
			}
		})
	}
}

// boundary is a multipart/byteranges boundary, random per response.
var boundary = regexp.MustCompile(`[0-9a-f]{60}`)

// answer is a response as the comparison sees it.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func fetchAnswer(t *testing.T, method, u string, header http.Header) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if header != nil {
		req.Header = header.Clone()
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// A body shorter than its Content-Length (distribution's 412) is
	// compared too.
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		body = append(body, "\nread error: "+err.Error()...)
	}
	resp.Header.Del("Date")
	for k, vs := range resp.Header {
		for i := range vs {
			vs[i] = boundary.ReplaceAllString(vs[i], "BOUNDARY")
		}
		resp.Header[k] = vs
	}
	return answer{resp.StatusCode, resp.Header, boundary.ReplaceAll(body, []byte("BOUNDARY"))}
}

// TestBlobAnswersAsDistribution compares, request by request, the answer
// for a blob in one of the bundle's repositories (answered by the registry
// itself) with distribution's answer for the same blob mounted into a
// pushed repository (which only distribution answers): status, every
// header and the body, for GET, HEAD, ranges (one, several, unsatisfiable)
// and conditional requests, and a blob the repository does not hold.
func TestBlobAnswersAsDistribution(t *testing.T) {
	f := smallBundle(t)
	_, host := serve(t, f.b, WithWritable(t.TempDir()))
	img := f.b.Lock.Images[0]
	layer := img.Layers[len(img.Layers)-1]
	repo, _ := manifests.RepoTag(img.Names[0])
	base := "http://" + host + "/v2/"
	mount := fmt.Sprintf("%slab/mounted/blobs/uploads/?mount=%s&from=%s", base, layer.Digest, repo)
	if code, body := do(t, http.MethodPost, mount, "", nil); code != http.StatusCreated {
		t.Fatalf("mounting %s into lab/mounted: %d %s", layer.Digest, code, body)
	}
	// A blob of the bundle that this repository does not hold.
	var foreign digest.Digest
	for _, other := range f.b.Lock.Images {
		for _, bl := range other.Blobs() {
			if !slices.ContainsFunc(img.Blobs(), func(b2 bundle.Blob) bool { return b2.Digest == bl.Digest }) {
				foreign = bl.Digest
			}
		}
	}
	if foreign == "" {
		t.Fatal("every blob of the bundle is in the first image")
	}
	etag := `"` + string(layer.Digest) + `"`
	for _, tc := range []struct {
		name, method string
		header       http.Header
		digest       digest.Digest
	}{
		{"get", http.MethodGet, nil, layer.Digest},
		{"head", http.MethodHead, nil, layer.Digest},
		{"range", http.MethodGet, http.Header{"Range": {"bytes=10-99"}}, layer.Digest},
		{"suffix range", http.MethodGet, http.Header{"Range": {"bytes=-5"}}, layer.Digest},
		{"ranges", http.MethodGet, http.Header{"Range": {"bytes=0-3,20-29"}}, layer.Digest},
		{"unsatisfiable", http.MethodGet, http.Header{"Range": {fmt.Sprintf("bytes=%d-", layer.Size+10)}}, layer.Digest},
		{"head range", http.MethodHead, http.Header{"Range": {"bytes=10-99"}}, layer.Digest},
		{"if-none-match", http.MethodGet, http.Header{"If-None-Match": {etag}}, layer.Digest},
		{"if-match other", http.MethodGet, http.Header{"If-Match": {`"sha256:0"`}}, layer.Digest},
		{"if-range other", http.MethodGet, http.Header{"Range": {"bytes=0-9"}, "If-Range": {`"sha256:0"`}}, layer.Digest},
		{"if-range same", http.MethodGet, http.Header{"Range": {"bytes=0-9"}, "If-Range": {etag}}, layer.Digest},
		{"not in the repository", http.MethodGet, nil, foreign},
		{"head not in the repository", http.MethodHead, nil, foreign},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ours := fetchAnswer(t, tc.method, base+repo+"/blobs/"+string(tc.digest), tc.header)
			theirs := fetchAnswer(t, tc.method, base+"lab/mounted/blobs/"+string(tc.digest), tc.header)
			if tc.digest == foreign {
				// lab/mounted does not hold it either: both are
				// distribution's 404.
				if ours.status != http.StatusNotFound || (tc.method == http.MethodGet && !bytes.Contains(ours.body, []byte("BLOB_UNKNOWN"))) {
					t.Errorf("a blob the repository does not hold: %d %s", ours.status, ours.body)
				}
			}
			if ours.status != theirs.status {
				t.Errorf("status %d, distribution's %d", ours.status, theirs.status)
			}
			keys := func(h http.Header) []string {
				var k []string
				for name := range h {
					k = append(k, name)
				}
				slices.Sort(k)
				return k
			}
			if !slices.Equal(keys(ours.header), keys(theirs.header)) {
				t.Errorf("headers %v, distribution's %v", keys(ours.header), keys(theirs.header))
			}
			for k, v := range theirs.header {
				if strings.Join(ours.header[k], ", ") != strings.Join(v, ", ") {
					t.Errorf("%s: %q, distribution's %q", k, ours.header[k], v)
				}
			}
			if !bytes.Equal(ours.body, theirs.body) {
				t.Errorf("body of %d bytes differs from distribution's %d:\n%.300q\n%.300q", len(ours.body), len(theirs.body), ours.body, theirs.body)
			}
		})
	}
}

// countedCall is what ServeCounted reported.
type countedCall struct {
	code    int
	bytes   int64
	aborted bool
	calls   int
}

func serveCounted(r *Registry, w http.ResponseWriter, req *http.Request) (c countedCall, panicked any) {
	defer func() { panicked = recover() }()
	r.ServeCounted(w, req, func(code int, bytes int64, aborted bool) {
		c = countedCall{code, bytes, aborted, c.calls + 1}
	})
	return c, nil
}

// TestServeCounted checks what ServeCounted reports for blobs answered by
// the registry and requests answered by distribution, and that a damaged
// blob is reported cut short before the response is aborted.
func TestServeCounted(t *testing.T) {
	f := smallBundle(t)
	r, err := New(t.Context(), f.b)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	img := f.b.Lock.Images[0]
	layer := img.Layers[len(img.Layers)-1]
	repo, _ := manifests.RepoTag(img.Names[0])
	blob := "/v2/" + repo + "/blobs/" + string(layer.Digest)
	for _, tc := range []struct {
		name, method, path, rng string
		want                    countedCall
	}{
		{"blob", http.MethodGet, blob, "", countedCall{200, layer.Size, false, 1}},
		{"blob range", http.MethodGet, blob, "bytes=0-9", countedCall{206, 10, false, 1}},
		{"blob head", http.MethodHead, blob, "", countedCall{200, 0, false, 1}},
		{"unknown blob", http.MethodGet, "/v2/" + repo + "/blobs/sha256:" + strings.Repeat("0", 64), "", countedCall{404, -1, false, 1}},
		{"unknown blob head", http.MethodHead, "/v2/" + repo + "/blobs/sha256:" + strings.Repeat("0", 64), "", countedCall{404, 0, false, 1}},
		{"manifest", http.MethodGet, "/v2/" + repo + "/manifests/" + string(img.Digest), "", countedCall{200, img.Size, false, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.rng != "" {
				req.Header.Set("Range", tc.rng)
			}
			w := httptest.NewRecorder()
			got, p := serveCounted(r, w, req)
			if p != nil {
				t.Fatalf("panicked: %v", p)
			}
			if tc.want.bytes < 0 {
				tc.want.bytes = int64(w.Body.Len()) // an error body
			}
			if got != tc.want {
				t.Errorf("counted %+v, want %+v", got, tc.want)
			}
		})
	}

	t.Run("damaged", func(t *testing.T) {
		b, img, layer := damagedBundle(t)
		r, err := New(t.Context(), b, WithLogger(testLogger(t, 0)))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		repo, _ := manifests.RepoTag(img.Names[0])
		w := &kernelWriter{ResponseRecorder: httptest.NewRecorder()}
		got, p := serveCounted(r, w, httptest.NewRequest(http.MethodGet, "/v2/"+repo+"/blobs/"+string(layer.Digest), nil))
		if err, _ := p.(error); !errors.Is(err, http.ErrAbortHandler) {
			t.Errorf("panicked with %v, want http.ErrAbortHandler", p)
		}
		if got.calls != 1 || !got.aborted || got.bytes != 0 {
			t.Errorf("counted %+v, want once, aborted, no bytes", got)
		}
		if w.Body.Len() != 0 {
			t.Errorf("%d bytes of the damaged blob were written", w.Body.Len())
		}
	})
}
