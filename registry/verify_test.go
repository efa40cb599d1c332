package registry

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
	"github.com/paimirror/paimirror/manifests"
)

// debugLogger logs to w from Debug up, as text.
func debugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// damagedBundle builds the small manifest into a bundle of its own, flips
// one byte in the middle of the first image's last layer in the file, and
// opens it. It returns the bundle and the damaged layer.
func damagedBundle(t *testing.T) (*bundle.Bundle, bundle.Image, bundle.Blob) {
	t.Helper()
	small := bundletest.SmallBundle(t)
	img := small.Bundle.Lock.Images[0]
	layer := img.Layers[len(img.Layers)-1]
	b := bundletest.Damage(t, small.Copy(t), layer.Digest)
	return b, b.Lock.Images[0], layer
}

// TestDamagedBlobIsCut serves a bundle with one byte flipped inside a
// layer: a GET of the layer, whole or ranged, never delivers a complete
// body (the connection is cut before the last bytes), crane's pull fails,
// and the log names the blob and says to run paimirror verify. An
// undamaged image still pulls, and pulling it again hashes nothing.
func TestDamagedBlobIsCut(t *testing.T) {
	crane := tool(t, "crane")
	b, img, layer := damagedBundle(t)
	var log testenv.Buffer
	r, host := serve(t, b, WithLogger(debugLogger(&log)))
	repo, _ := manifests.RepoTag(img.Names[0])
	u := fmt.Sprintf("http://%s/v2/%s/blobs/%s", host, repo, layer.Digest)

	for _, rng := range []string{"", "bytes=1-", fmt.Sprintf("bytes=%d-", layer.Size-10)} {
		t.Run("range "+rng, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			if rng != "" {
				req.Header.Set("Range", rng)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return // cut before the headers: also never a wrong body
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Errorf("%s: %d bytes of a damaged blob arrived complete (Content-Length %d)", resp.Status, len(body), resp.ContentLength)
			}
		})
	}
	if out, err := runErr(crane, "pull", "--insecure", host+"/"+img.Names[0], filepath.Join(t.TempDir(), "x.tar")); err == nil {
		t.Errorf("crane pulled an image with a damaged layer:\n%s", out)
	}
	logged := log.String()
	if !strings.Contains(logged, string(layer.Digest)) || !strings.Contains(logged, "paimirror verify") {
		t.Errorf("the log does not name the damaged blob %s and paimirror verify:\n%s", layer.Digest, logged)
	}
	if n := strings.Count(logged, "level=ERROR"); n == 0 {
		t.Errorf("no error record:\n%s", logged)
	}

	// Another image is whole: it pulls, and a second pull hashes nothing.
	good := b.Lock.Images[len(b.Lock.Images)-1]
	if err := pullImage(host, good.Names[0], good.Digest); err != nil {
		t.Fatal(err)
	}
	first := r.bundleDriver.hashed.Load()
	if first == 0 {
		t.Fatal("pulling a whole image hashed no blob")
	}
	if err := pullImage(host, good.Names[0], good.Digest); err != nil {
		t.Fatal(err)
	}
	if again := r.bundleDriver.hashed.Load(); again != first {
		t.Errorf("the second pull hashed %d blobs again", again-first)
	}
}
