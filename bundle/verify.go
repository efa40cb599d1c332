package bundle

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
)

// VerifyOptions configures Verify. The zero value checks everything with one
// worker per CPU.
type VerifyOptions struct {
	// Jobs is how many blobs are hashed at once; default runtime.NumCPU().
	Jobs int
	// Progress, when set, is called with the bytes hashed so far (a delta),
	// from one goroutine at a time.
	Progress func(delta int64)
}

// Problem is one piece of damage Verify found.
type Problem struct {
	// Digest is the blob concerned, if any.
	Digest digest.Digest `json:"digest,omitempty"`
	// Users names what needs the blob: "layer of openpai/rest-server:v1.8.0".
	Users []string `json:"users,omitempty"`
	// Msg says what is wrong.
	Msg string `json:"msg"`
}

func (p Problem) String() string {
	s := p.Msg
	if len(p.Users) > 0 {
		s += " (needed by " + joinMax(p.Users, 3) + ")"
	}
	return s
}

// Report is the result of Verify.
type Report struct {
	Blobs    int       `json:"blobs"`
	Bytes    int64     `json:"bytes"`
	Problems []Problem `json:"problems"`
}

// OK reports whether no damage was found.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Verify checks the whole bundle offline: every blob hashes to its name;
// every blob the lock, index.json or an image manifest references is
// present; the lock agrees with the manifests, with index.json's
// descriptors and their annotations, and with the layout indexes; and
// paimirror.json hashes to the digest index.json records for it
// (AnnotationLockSHA256; bundles written before it have none, and then
// only the cross-checks guard the lock: a file's path, for one, is in the
// lock alone). For a base and its deltas, it checks the new state: every
// blob the last lock references is in one of them, every blob of each
// hashes to its name, and each earlier lock matches its index.json (Open
// checked that each delta follows its base). A delta opened alone
// (OpenOptions.NoBase) is checked for what it holds: the blobs only its
// base holds are not reported missing. It returns a Report listing every
// problem; the error is only for failures to read at all.
func (b *Bundle) Verify(ctx context.Context, opts VerifyOptions) (*Report, error) {
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	users := b.blobUsers()
	rep := &Report{}
	var mu sync.Mutex
	add := func(p Problem) {
		mu.Lock()
		defer mu.Unlock()
		rep.Problems = append(rep.Problems, p)
	}

	// References: everything named must be present.
	for _, d := range sortedKeys(users) {
		if _, ok := b.blobs[d]; !ok && !b.baseMissing {
			add(Problem{Digest: d, Users: users[d], Msg: fmt.Sprintf("blob %s is missing", d)})
		}
	}
	b.checkLockIntegrity(add)
	for _, img := range b.Lock.Images {
		b.checkManifest(img, add)
	}
	for _, d := range b.Index.Manifests {
		if _, ok := b.blobs[d.Digest]; !ok && !b.baseMissing {
			add(Problem{Digest: d.Digest, Msg: fmt.Sprintf("index.json names %s, which is missing", d.Digest)})
		}
	}

	// Contents: every blob must hash to its name.
	digests := b.Digests()
	work := make(chan digest.Digest)
	var wg sync.WaitGroup
	var progMu sync.Mutex
	for range jobs {
		wg.Go(func() {
			for d := range work {
				e := b.blobs[d]
				var report func(int64)
				if opts.Progress != nil {
					report = func(n int64) {
						progMu.Lock()
						defer progMu.Unlock()
						opts.Progress(n)
					}
				}
				got, err := readDigest(io.NewSectionReader(b.r, e.DataOff, e.Size), digest.SHA256, report)
				if err != nil {
					add(Problem{Digest: d, Users: users[d], Msg: fmt.Sprintf("blob %s cannot be read: %v", d, err)})
					continue
				}
				if got != d {
					add(Problem{Digest: d, Users: users[d], Msg: fmt.Sprintf("blob %s is damaged: its content hashes to %s", d, got)})
				}
				mu.Lock()
				rep.Blobs++
				rep.Bytes += e.Size
				mu.Unlock()
			}
		})
	}
feed:
	for _, d := range digests {
		select {
		case work <- d:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sort.Slice(rep.Problems, func(i, j int) bool { return rep.Problems[i].Msg < rep.Problems[j].Msg })
	return rep, nil
}

// checkLockIntegrity checks paimirror.json against what else in the bundle
// records the same facts: its digest in index.json, when the bundle has
// one, and each image's descriptor in index.json (the layout index it
// points at and the mirror names it is annotated with), which Build writes
// from the lock in the lock's order.
func (b *Bundle) checkLockIntegrity(add func(Problem)) {
	for _, l := range b.layers[:len(b.layers)-1] {
		if want, ok := l.index.Annotations[AnnotationLockSHA256]; ok {
			if got := sha256hex(l.lockData); got != want {
				add(Problem{Msg: fmt.Sprintf("%s of %s is damaged: its bytes hash to sha256:%s, %s records sha256:%s", LockName, l.name(), got, IndexName, want)})
			}
		}
	}
	if want, ok := b.Index.Annotations[AnnotationLockSHA256]; ok {
		if got := sha256hex(b.lockData); got != want {
			add(Problem{Msg: fmt.Sprintf("%s is damaged: its bytes hash to sha256:%s, %s records sha256:%s", LockName, got, IndexName, want)})
		}
	}
	if len(b.Index.Manifests) != len(b.Lock.Images) {
		add(Problem{Msg: fmt.Sprintf("%s has %d images, %s %d", IndexName, len(b.Index.Manifests), LockName, len(b.Lock.Images))})
		return
	}
	for i, img := range b.Lock.Images {
		d := b.Index.Manifests[i]
		mismatch := func(what, inIndex, inLock string) {
			add(Problem{Digest: img.Digest, Users: []string{img.Ref}, Msg: fmt.Sprintf("image %d: %s says %s %q, %s says %q", i+1, IndexName, what, inIndex, LockName, inLock)})
		}
		if d.Digest != img.LayoutIndex.Digest || d.Size != img.LayoutIndex.Size {
			mismatch("layout index", fmt.Sprintf("%s (%d bytes)", d.Digest, d.Size), fmt.Sprintf("%s (%d bytes)", img.LayoutIndex.Digest, img.LayoutIndex.Size))
		}
		primary := ""
		if len(img.Names) > 0 {
			primary = img.Names[0]
		}
		if got := d.Annotations[AnnotationRefName]; got != primary {
			mismatch("primary name ("+AnnotationRefName+")", got, primary)
		}
		if got, want := d.Annotations[AnnotationNames], strings.Join(img.Names, ","); got != want {
			mismatch("names ("+AnnotationNames+")", got, want)
		}
		if got := d.Annotations[AnnotationUpstream]; got != img.Ref {
			mismatch("upstream ("+AnnotationUpstream+")", got, img.Ref)
		}
	}
}

// checkManifest compares an image manifest, and the layout index that
// points at it, with the lock.
func (b *Bundle) checkManifest(img Image, add func(Problem)) {
	if data, err := b.ReadBlob(img.LayoutIndex.Digest, maxManifestSize); err == nil {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(data))
		switch {
		case err != nil || len(idx.Manifests) != 1 || hashDigest(idx.Manifests[0].Digest) != img.Digest:
			add(Problem{Digest: img.LayoutIndex.Digest, Users: []string{img.Ref}, Msg: fmt.Sprintf("layout index %s of %s does not point at its manifest %s", img.LayoutIndex.Digest, img.Ref, img.Digest)})
		case string(idx.Manifests[0].MediaType) != img.MediaType || idx.Manifests[0].Size != img.Size || !samePlatform(idx.Manifests[0].Platform, img.Platform):
			m := idx.Manifests[0]
			add(Problem{Digest: img.LayoutIndex.Digest, Users: []string{img.Ref}, Msg: fmt.Sprintf("layout index %s of %s gives its manifest as %s, %d bytes, platform %s; %s says %s, %d bytes, platform %s",
				img.LayoutIndex.Digest, img.Ref, m.MediaType, m.Size, platformString(m.Platform), LockName, img.MediaType, img.Size, img.Platform)})
		}
	}
	data, err := b.ReadBlob(img.Digest, maxManifestSize)
	if err != nil {
		return // reported as missing
	}
	mf, err := v1.ParseManifest(bytes.NewReader(data))
	if err != nil {
		add(Problem{Digest: img.Digest, Users: []string{img.Ref}, Msg: fmt.Sprintf("manifest %s of %s does not parse: %v", img.Digest, img.Ref, err)})
		return
	}
	refs := append([]v1.Descriptor{mf.Config}, mf.Layers...)
	lockBlobs := img.Blobs()
	if len(refs) != len(lockBlobs) {
		add(Problem{Digest: img.Digest, Users: []string{img.Ref}, Msg: fmt.Sprintf("manifest of %s names %d blobs, the lock %d", img.Ref, len(refs), len(lockBlobs))})
		return
	}
	for i, d := range refs {
		if hashDigest(d.Digest) != lockBlobs[i].Digest || d.Size != lockBlobs[i].Size {
			add(Problem{Digest: hashDigest(d.Digest), Users: []string{img.Ref}, Msg: fmt.Sprintf("manifest of %s names blob %s (%d bytes) where the lock has %s (%d bytes)", img.Ref, d.Digest, d.Size, lockBlobs[i].Digest, lockBlobs[i].Size)})
		}
	}
}

// samePlatform reports whether a layout index's platform is the lock's
// ("os/arch[/variant]", or empty when the lock records none).
func samePlatform(p *v1.Platform, lock string) bool {
	want, err := v1.ParsePlatform(lock)
	if lock == "" || err != nil {
		return p == nil
	}
	return p != nil && p.OS == want.OS && p.Architecture == want.Architecture && p.Variant == want.Variant
}

func platformString(p *v1.Platform) string {
	if p == nil {
		return "(none)"
	}
	return p.String()
}

// blobUsers maps each referenced digest to what references it.
func (b *Bundle) blobUsers() map[digest.Digest][]string {
	users := map[digest.Digest][]string{}
	for _, img := range b.Lock.Images {
		users[img.Digest] = append(users[img.Digest], "manifest of "+img.Ref)
		users[img.LayoutIndex.Digest] = append(users[img.LayoutIndex.Digest], "layout index of "+img.Ref)
		users[img.Config.Digest] = append(users[img.Config.Digest], "config of "+img.Ref)
		for _, l := range img.Layers {
			users[l.Digest] = append(users[l.Digest], "layer of "+img.Ref)
		}
	}
	for _, f := range b.Lock.Files {
		users[f.Digest()] = append(users[f.Digest()], "file "+f.URL)
	}
	for _, f := range b.Lock.PythonFiles() {
		users[f.Digest()] = append(users[f.Digest()], "python file "+f.Filename)
	}
	for _, f := range b.Lock.AptServed() {
		users[f.Digest()] = append(users[f.Digest()], "apt file "+f.URL)
	}
	return users
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// hashDigest converts go-containerregistry's digest to go-digest's.
func hashDigest(h v1.Hash) digest.Digest { return digest.Digest(h.String()) }

func joinMax(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(s[:n], ", "), len(s)-n)
}

// reportingWriter reports the size of every write.
type reportingWriter struct {
	w      io.Writer
	report func(int64)
}

func (c reportingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if n > 0 {
		c.report(int64(n))
	}
	return n, err
}
