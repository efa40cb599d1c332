package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/opencontainers/go-digest"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/paimirror/paimirror/bundle/internal/fetch"
	"github.com/paimirror/paimirror/manifests"
	"github.com/paimirror/paimirror/manifests/redact"
)

// maxManifestSize bounds an image manifest or index read into memory.
const maxManifestSize = 4 << 20

// SourceError is a failure to read from one source.
type SourceError = fetch.SourceError

// unreachable reports whether err means the host could not be reached at
// all (no DNS answer, connection refused, no route).
func unreachable(err error) bool { return fetch.Unreachable(err) }

// sourcesError explains why every source of an item failed. When a host
// could not be reached it is an *UnreachableError naming origin, which
// Build's error sums up once for every item that needed it.
func sourcesError(origin string, errs []error) error {
	err := errors.Join(errs...)
	for _, e := range errs {
		if unreachable(e) {
			return &UnreachableError{Origin: origin, Err: err, Only: onlyUnreachable(err)}
		}
	}
	return err
}

// onlyUnreachable reports whether every failure joined in err is an
// unreachable host.
func onlyUnreachable(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !onlyUnreachable(e) {
				return false
			}
		}
		return true
	}
	return unreachable(err)
}

// UnreachableError is an item some of whose sources could not be reached;
// Origin is the registry or URL prefix a --mirror would redirect. Only
// says that no source failed otherwise.
type UnreachableError struct {
	Origin string
	Err    error
	Only   bool
}

func (e *UnreachableError) Error() string { return redact.Text(e.Err.Error()) }

// Unwrap returns ErrUnreachable and the sources' errors.
func (e *UnreachableError) Unwrap() []error { return []error{ErrUnreachable, e.Err} }

// PlatformError is an image whose reference names one image, not a
// multi-platform index, whose config states a platform other than the one
// asked for.
type PlatformError struct {
	// Image is the manifest's image reference.
	Image string
	// Have is the platform the image's config states; Want the one asked
	// for.
	Have, Want string
	// Flag says Want came from --platform (BuildOptions.Platform), not
	// from the manifest's platforms for the image.
	Flag bool
	// Groups are the image's groups in the manifest.
	Groups []string
}

// Error says what the image is and what to do; Build's error puts the
// image's reference before it.
func (e *PlatformError) Error() string {
	what := fmt.Sprintf("a single %s image, not a multi-platform index, so there is no %s image to pull", e.Have, e.Want)
	out := "remove it from the manifest"
	if len(e.Groups) > 0 {
		out = fmt.Sprintf("leave it out with --exclude %s (and with it the rest of that group)", e.Groups[0])
	}
	if e.Flag {
		return fmt.Sprintf("%s, which --platform %s asks for; build without --platform, or %s", what, e.Want, out)
	}
	return fmt.Sprintf("%s, which the manifest's platforms for it ask for; set its platforms to [%s] in the manifest, or %s", what, e.Have, out)
}

// imagePlan is a resolved image: its manifest bytes and where to get blobs.
type imagePlan struct {
	item     string
	key      string
	image    Image
	manifest []byte // nil when resumed from the journal
	sources  []imageSource
	// groups are the image's groups in the manifest; flag says its
	// platform came from BuildOptions.Platform (for a PlatformError).
	groups []string
	flag   bool
}

func imageKey(img manifests.Image, platform string) string {
	return "image " + img.Ref + " " + platform + " " + img.Digest
}

func fileKey(f manifests.File) string { return "file " + f.URL + " " + f.SHA256 }

func (b *builder) platform(img manifests.Image) string {
	if b.opts.Platform != "" {
		return b.opts.Platform
	}
	return img.PlatformList()[0]
}

// transport returns an authenticated transport for a repository, made once
// per repository (making one pings the registry and may fetch a token).
// A failure is not kept, so a retry pings again.
func (b *builder) transport(ctx context.Context, repo name.Repository) (http.RoundTripper, error) {
	v, _ := b.transports.LoadOrStore(repo.Name(), &transportOnce{})
	t := v.(*transportOnce)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rt != nil {
		return t.rt, nil
	}
	auth, err := b.opts.Keychain.Resolve(repo.Registry)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", repo.RegistryStr(), err)
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, b.rt, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	t.rt = rt
	return rt, nil
}

type transportOnce struct {
	mu sync.Mutex
	rt http.RoundTripper
}

// resolveImage finds the image manifest an image's tag (or pinned digest)
// serves for the build's platform, trying each source in turn.
func (b *builder) resolveImage(ctx context.Context, img manifests.Image) (*imagePlan, error) {
	plat := b.platform(img)
	key := imageKey(img, plat)
	registry, repository, tag := img.Upstream()
	sources, err := imageSources(b.opts.Mirrors, registry, repository)
	if err != nil {
		return nil, err
	}
	if rec, ok := b.records[key]; ok {
		return &imagePlan{item: img.Ref, key: key, image: *rec.Image, sources: sources}, nil
	}
	var errs []error
	for i, src := range sources {
		p, err := b.resolveFrom(ctx, img, src, plat, tag)
		if err != nil {
			errs = append(errs, err)
			b.log.Warn("resolving image", "image", img.Ref, "source", src.String(), "err", err)
			if errors.Is(err, ErrSchema1) || ctx.Err() != nil {
				return nil, err
			}
			continue
		}
		p.key, p.groups, p.flag = key, img.Groups, b.opts.Platform != ""
		// Blobs come from the source that answered first, then the others.
		p.sources = append([]imageSource{src}, append(append([]imageSource{}, sources[:i]...), sources[i+1:]...)...)
		return p, nil
	}
	return nil, sourcesError(registry, errs)
}

func (b *builder) resolveFrom(ctx context.Context, img manifests.Image, src imageSource, plat, tag string) (*imagePlan, error) {
	b.sem <- struct{}{}
	defer func() { <-b.sem }()
	tr, err := b.transport(ctx, src.repo)
	if err != nil {
		return nil, &SourceError{Source: src.String(), Err: err}
	}
	var ref name.Reference = src.repo.Tag(tag)
	if img.Digest != "" {
		ref = src.repo.Digest(img.Digest)
	}
	desc, err := b.getManifest(ctx, ref, tr, digest.Digest(img.Digest))
	if err != nil {
		return nil, err
	}
	image := Image{Ref: img.Ref, Source: ref.Name(), Names: img.MirrorNames(), Platform: plat}
	if desc.MediaType.IsIndex() {
		child, err := pickPlatform(ref.Name(), desc, plat)
		if err != nil {
			return nil, err
		}
		image.IndexDigest = hashDigest(desc.Digest)
		desc, err = b.getManifest(ctx, src.repo.Digest(child.String()), tr, hashDigest(child))
		if err != nil {
			return nil, err
		}
		if desc.MediaType.IsIndex() {
			return nil, fmt.Errorf("%s: platform %s points at another index; nested indexes are not supported", ref, plat)
		}
	}
	mf, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil, fmt.Errorf("%s: parsing image manifest: %w", ref, err)
	}
	image.Digest = hashDigest(desc.Digest)
	image.MediaType = string(desc.MediaType)
	image.Size = int64(len(desc.Manifest))
	image.Config = Blob{Digest: hashDigest(mf.Config.Digest), Size: mf.Config.Size, MediaType: string(mf.Config.MediaType)}
	for _, l := range mf.Layers {
		if !l.MediaType.IsDistributable() {
			return nil, fmt.Errorf("%s: layer %s is non-distributable (%s); such images cannot be mirrored", ref, l.Digest, l.MediaType)
		}
		image.Layers = append(image.Layers, Blob{Digest: hashDigest(l.Digest), Size: l.Size, MediaType: string(l.MediaType)})
	}
	return &imagePlan{item: img.Ref, image: image, manifest: desc.Manifest}, nil
}

// getManifest fetches a manifest or index and checks its bytes against
// want (when given) or the registry's Docker-Content-Digest.
func (b *builder) getManifest(ctx context.Context, ref name.Reference, tr http.RoundTripper, want digest.Digest) (*remote.Descriptor, error) {
	desc, err := remote.Get(ref, remote.WithTransport(tr), remote.WithContext(ctx))
	if err != nil {
		return nil, &SourceError{Source: ref.Name(), Err: err, Status: statusOf(err)}
	}
	switch desc.MediaType {
	case types.DockerManifestSchema1, types.DockerManifestSchema1Signed:
		return nil, fmt.Errorf("%s: %w; ask its publisher for a schema 2 or OCI image, or choose another tag", ref.Name(), ErrSchema1)
	}
	if len(desc.Manifest) > maxManifestSize {
		return nil, &SourceError{Source: ref.Name(), Err: fmt.Errorf("manifest is %d bytes, larger than %d", len(desc.Manifest), maxManifestSize), Permanent: true}
	}
	got := digest.FromBytes(desc.Manifest)
	if want == "" {
		want = hashDigest(desc.Digest)
	}
	if got != want {
		return nil, &DigestError{Item: "manifest of " + ref.Name(), Source: ref.Context().RegistryStr(), Want: want, Got: got}
	}
	return desc, nil
}

func statusOf(err error) int {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}

func pickPlatform(ref string, desc *remote.Descriptor, plat string) (v1.Hash, error) {
	want, err := v1.ParsePlatform(plat)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("platform %q: %w", plat, err)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("%s: parsing index: %w", ref, err)
	}
	var have []string
	for _, m := range idx.Manifests {
		if m.Platform == nil {
			continue
		}
		if m.Platform.Satisfies(*want) {
			return m.Digest, nil
		}
		have = append(have, m.Platform.String())
	}
	return v1.Hash{}, fmt.Errorf("%s has no %s image (it has: %s); pass --platform or set the image's platforms", ref, plat, strings.Join(have, ", "))
}

// blobSources returns srcs with digest after each URL.
func blobSources(srcs []fetch.Source, d digest.Digest) []fetch.Source {
	var out []fetch.Source
	for _, s := range srcs {
		s.URL += string(d)
		out = append(out, s)
	}
	return out
}

// checkPlatform makes sure that an image its reference names alone (not
// an index, which says which image is for which platform) is for the
// platform asked for, as its config states, and returns that platform,
// variant and all, for the lock. It stores the config first, ahead of the layers, so an
// image for another platform fails before they are downloaded; reading the
// config back costs a scan of the partial file's headers. An image resumed
// from the journal was checked when first pulled; a config that is not an
// image config (an artifact's) or states no os and architecture is not
// checked: the platform asked for (or recorded) is returned.
func (b *builder) checkPlatform(ctx context.Context, p *imagePlan, srcs []fetch.Source) (string, error) {
	cfg, asked := p.image.Config, p.image.Platform
	if p.manifest == nil || p.image.IndexDigest != "" {
		return asked, nil
	}
	switch types.MediaType(cfg.MediaType) {
	case types.DockerConfigJSON, types.OCIConfigJSON:
	default:
		return asked, nil
	}
	if cfg.Size < 0 || cfg.Size > maxManifestSize {
		return "", fmt.Errorf("image config %s is %d bytes; at most %d are read", cfg.Digest, cfg.Size, maxManifestSize)
	}
	var raw []byte
	var err error
	if b.w.inBase(cfg.Digest) {
		// A delta's base holds it: read it, but do not store it.
		raw, err = b.fetchMemory(ctx, p.item+" "+shortDigest(cfg.Digest), cfg.Digest, cfg.Size, blobSources(srcs, cfg.Digest))
	} else if _, err = b.fetchBlob(ctx, p.item+" "+shortDigest(cfg.Digest), cfg.Digest, cfg.Size, blobSources(srcs, cfg.Digest)); err == nil {
		raw, err = b.w.readBlob(cfg.Digest, cfg.Size)
	}
	if err != nil {
		return "", err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return "", fmt.Errorf("parsing image config %s: %w", cfg.Digest, err)
	}
	if cf.OS == "" && cf.Architecture == "" {
		b.log.Warn("the image's config states no platform; recording the one asked for", "image", p.item, "platform", asked)
		return asked, nil
	}
	want, err := v1.ParsePlatform(asked)
	if err != nil {
		return "", fmt.Errorf("platform %q: %w", asked, err)
	}
	have := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	if !platformSatisfies(have, *want) {
		return "", &PlatformError{Image: p.item, Have: have.String(), Want: asked, Flag: p.flag, Groups: p.groups}
	}
	return have.String(), nil
}

// readBlob returns the bytes of blob d (of size bytes) stored in the
// partial tar, checked against d.
func (w *partialWriter) readBlob(d digest.Digest, size int64) ([]byte, error) {
	sr, err := w.blobSection(d, size)
	if err != nil {
		return nil, err
	}
	data := make([]byte, size)
	if _, err := sr.ReadAt(data, 0); err != nil && !(err == io.EOF && size == 0) {
		return nil, fmt.Errorf("reading %s: %w", w.path, err)
	}
	if digest.FromBytes(data) != d {
		return nil, fmt.Errorf("blob %s in %s does not hash to its name", d, w.path)
	}
	return data, nil
}

// blobSection returns where blob d (of size bytes) lies in the partial
// tar: a reader of its member's data, valid while the writer is open. It
// scans the tar's headers (no data) and trusts the member: blobs reach
// the tar verified.
func (w *partialWriter) blobSection(d digest.Digest, size int64) (*io.SectionReader, error) {
	w.mu.Lock()
	end := w.end
	w.mu.Unlock()
	res, err := scanTar(w.f, end)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", w.path, err)
	}
	for _, e := range res.Entries {
		if e.Typeflag == tar.TypeReg && e.Size == size && blobDigest(e.Name) == d {
			return io.NewSectionReader(w.f, e.DataOff, size), nil
		}
	}
	return nil, fmt.Errorf("blob %s is not stored in %s", d, w.path)
}

// platformSatisfies reports whether an image for have serves want: each
// field want sets matches, and arm64 without a variant is arm64/v8.
func platformSatisfies(have, want v1.Platform) bool {
	if have.Architecture == "arm64" && have.Variant == "" {
		have.Variant = "v8"
	}
	if want.Architecture == "arm64" && want.Variant == "" {
		want.Variant = "v8"
	}
	return have.Satisfies(want)
}

// pullImage stores an image's manifest, config and layers, and returns the
// image as the lock records it (with the platform checkPlatform found).
func (b *builder) pullImage(ctx context.Context, p *imagePlan) (Image, error) {
	if p.manifest != nil {
		// Verified against its digest when resolved.
		b.emit(Event{Kind: EventStart, Item: p.item, Total: p.image.Size})
		if err := b.w.add(p.image.Digest, p.image.Size, bytes.NewReader(p.manifest)); err != nil {
			return Image{}, err
		}
		b.emit(Event{Kind: EventBytes, Item: p.item, Bytes: p.image.Size})
		b.emit(Event{Kind: EventDone, Item: p.item})
	}
	srcs := b.registrySources(p.sources)
	img := p.image
	plat, err := b.checkPlatform(ctx, p, srcs)
	if err != nil {
		return Image{}, err
	}
	img.Platform = plat
	var wg sync.WaitGroup
	blobs := p.image.Blobs()
	errs := make([]error, len(blobs))
	for i, bl := range blobs {
		wg.Go(func() {
			item := p.item + " " + shortDigest(bl.Digest)
			_, errs[i] = b.fetchBlob(ctx, item, bl.Digest, bl.Size, blobSources(srcs, bl.Digest))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Image{}, err
	}
	if err := b.w.record(journalRecord{Key: p.key, Image: &img}); err != nil {
		return Image{}, err
	}
	b.emit(Event{Kind: EventItemDone, Item: p.item})
	return img, nil
}

func shortDigest(d digest.Digest) string {
	s := d.Encoded()
	if len(s) > 12 {
		s = s[:12]
	}
	return s
}

// registrySources returns the engine sources of an image's repositories,
// URLs ending in "/blobs/" (the digest goes after), each with a client
// whose authenticating transport is made when the engine first uses it:
// a registry the engine never needs (the origin, when a mirror serves
// everything) is never pinged.
func (b *builder) registrySources(srcs []imageSource) []fetch.Source {
	var out []fetch.Source
	for _, s := range srcs {
		u := fmt.Sprintf("%s://%s/v2/%s/blobs/", s.repo.Scheme(), s.repo.RegistryStr(), s.repo.RepositoryStr())
		out = append(out, fetch.Source{Name: s.String(), URL: u, Client: &http.Client{Transport: lazyTransport{b: b, repo: s.repo}}})
	}
	return out
}

// lazyTransport makes a repository's authenticating transport (a ping and
// perhaps a token) at its first request.
type lazyTransport struct {
	b    *builder
	repo name.Repository
}

func (t lazyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tr, err := t.b.transport(req.Context(), t.repo)
	if err != nil {
		return nil, err
	}
	return tr.RoundTrip(req)
}

// pullFile downloads a file from its first working source.
func (b *builder) pullFile(ctx context.Context, f manifests.File) (*File, error) {
	key := fileKey(f)
	if rec, ok := b.records[key]; ok {
		b.emit(Event{Kind: EventItemDone, Item: f.DisplayName()})
		lf := *rec.File
		lf.Paths = f.MirrorPaths()
		return &lf, nil
	}
	srcs := urlSources(fileSources(b.opts.Mirrors, f.Sources()))
	var d digest.Digest
	if f.SHA256 != "" {
		d = digest.NewDigestFromEncoded(digest.SHA256, f.SHA256)
	}
	st, err := b.fetchBlob(ctx, f.DisplayName(), d, -1, srcs)
	if err != nil {
		return nil, sourcesError(hostOf(f.URL), []error{err})
	}
	lf := &File{
		Name: f.DisplayName(), URL: f.URL, Source: st.source, SHA256: st.digest.Encoded(),
		Size: st.size, Paths: f.MirrorPaths(), Unpinned: f.SHA256 == "",
	}
	if err := b.w.record(journalRecord{Key: key, File: lf}); err != nil {
		return nil, err
	}
	b.emit(Event{Kind: EventItemDone, Item: f.DisplayName()})
	return lf, nil
}

// hostOf returns "scheme://host" of a URL, for --mirror hints.
func hostOf(u string) string {
	scheme := "https"
	if i := strings.Index(u, "://"); i >= 0 {
		scheme, u = u[:i], u[i+3:]
	}
	host, _, _ := strings.Cut(u, "/")
	return scheme + "://" + host
}

// layoutIndex returns the single-entry OCI index index.json points at for
// img: its image manifest, with the manifest's own media type and platform.
func layoutIndex(img Image) ([]byte, error) {
	d := ocispec.Descriptor{MediaType: img.MediaType, Digest: img.Digest, Size: img.Size}
	if p, err := v1.ParsePlatform(img.Platform); err == nil && img.Platform != "" {
		d.Platform = &ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{d}}
	idx.SchemaVersion = 2
	return json.Marshal(idx)
}

// ociIndex builds index.json: one descriptor per image, pointing at its
// layout index and annotated with its mirror names so OCI tools can select
// it.
func ociIndex(lock *Lock) ocispec.Index {
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	idx.SchemaVersion = 2
	for _, img := range lock.Images {
		idx.Manifests = append(idx.Manifests, ocispec.Descriptor{
			MediaType: ocispec.MediaTypeImageIndex,
			Digest:    img.LayoutIndex.Digest,
			Size:      img.LayoutIndex.Size,
			Annotations: map[string]string{
				AnnotationRefName:  img.Names[0],
				AnnotationNames:    strings.Join(img.Names, ","),
				AnnotationUpstream: img.Ref,
			},
		})
	}
	return idx
}
