package push

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/paimirror/paimirror/bundle"

	"github.com/paimirror/paimirror/manifests/redact"
)

// Options says how Push works. The zero value pushes every image of the
// bundle with the keychain's credentials, 4 at a time.
type Options struct {
	// Auth is the credential for the registry; nil: Keychain's.
	Auth authn.Authenticator
	// Keychain resolves the credential when Auth is nil; nil:
	// authn.DefaultKeychain (docker's config.json).
	Keychain authn.Keychain
	// Username is shown in errors about credentials (never the password).
	Username string
	// Transport is the HTTP transport (a CA to trust goes in its TLS
	// config); nil: a clone of http.DefaultTransport.
	Transport http.RoundTripper
	// Jobs bounds the blob transfers and the requests of the plan in
	// flight at once; default 4.
	Jobs int
	// Retries is how many times a blob or manifest is sent again after a
	// failure that may pass (a cut connection, 5xx, 429); default 3.
	Retries int
	// Include and Exclude select manifest groups as build's flags do:
	// Exclude leaves a group's images out; Include names groups that must
	// be in the bundle (an error if it holds none of their images).
	Include, Exclude []string
	// DryRun plans (reads the registry, writes nothing) and returns.
	DryRun bool
	// Progress, when set, receives events as Build's do (EventPlanned,
	// EventStart/Bytes/Done per uploaded blob, EventRetry,
	// EventDiscarded, EventItemDone per image), from one goroutine at a
	// time.
	Progress func(bundle.Event)
	// Logger gets one debug line per blob mounted or skipped, the URLs
	// in it without their credentials (redact.Handler); default discard.
	Logger *slog.Logger
}

// Result says what a push did (or, with DryRun, would do).
type Result struct {
	// Images is the number of images selected; Pushed of them needed at
	// least one manifest sent, the rest were complete already.
	Images, Pushed int
	// Manifests is the number of manifest names (tags) sent.
	Manifests int
	// Uploaded is the blobs sent with their bytes, UploadedBytes.
	Uploaded      int
	UploadedBytes int64
	// Mounted is the blobs linked from another repository of the push
	// instead of sent.
	Mounted int
	// Present is the (repository, blob) pairs that were there already.
	Present int
}

// Push copies the selected images of b to t (see the package
// documentation for what it promises and costs). Images that fail do not
// stop the others unless the failure is the registry's answer to every
// request (credentials, permissions, a missing project, TLS): then Push
// stops at once. It returns an *Error naming each failed image, or the
// first such fatal error explained. A bundle lacking a blob or manifest
// the registry needs (a delta opened without its base) is refused before
// anything is written.
func Push(ctx context.Context, b *bundle.Bundle, t Target, o Options) (*Result, error) {
	if o.Jobs <= 0 {
		o.Jobs = 4
	}
	if o.Retries <= 0 {
		o.Retries = 3
	}
	images, err := selectImages(b.Lock, o.Include, o.Exclude)
	if err != nil {
		return nil, err
	}
	units, err := makeUnits(t, images)
	if err != nil {
		return nil, err
	}
	earlier, err := earlierRepos(t, b, units)
	if err != nil {
		return nil, err
	}
	p := &pusher{b: b, t: t, o: o, units: units, earlier: earlier, log: redact.Logger(o.Logger)}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if err := p.connect(ctx); err != nil {
		return nil, err
	}
	if err := p.plan(ctx); err != nil {
		return nil, err
	}
	if err := p.checkHeld(); err != nil {
		return nil, err
	}
	res := p.summary()
	if o.DryRun {
		return res, nil
	}
	return p.run(ctx, res)
}

// unit is one image's names in one repository: the blobs and manifest
// tags it still lacks there.
type unit struct {
	img  bundle.Image
	repo name.Repository
	tags []string

	missingTags  []string      // tags without this image's manifest
	missingBlobs []bundle.Blob // blobs not in repo
}

// makeUnits groups each image's mirror names by repository, in lock order.
func makeUnits(t Target, images []bundle.Image) ([]*unit, error) {
	var units []*unit
	for _, img := range images {
		byRepo := map[string]*unit{}
		for _, n := range img.Names {
			repo, tag, ok := splitName(n)
			if !ok {
				return nil, fmt.Errorf("image %s: mirror name %q has no tag; the bundle's lock is damaged (paimirror verify checks it)", img.Ref, n)
			}
			u := byRepo[repo]
			if u == nil {
				r, err := t.Repository(repo)
				if err != nil {
					return nil, err
				}
				u = &unit{img: img, repo: r}
				byRepo[repo] = u
				units = append(units, u)
			}
			if !slices.Contains(u.tags, tag) {
				u.tags = append(u.tags, tag)
			}
		}
	}
	return units, nil
}

// earlierRepos maps each blob of the images in the locks before b's own
// (a delta's base, and the deltas between) to the repositories of t those
// images went to, when they were pushed there too: the places a blob the
// push needs may be already, outside the repositories of the push. Those
// of the push (units) are left out, since the plan asks each of them.
func earlierRepos(t Target, b *bundle.Bundle, units []*unit) (map[digest.Digest][]name.Repository, error) {
	locks := b.Locks()
	out := map[digest.Digest][]name.Repository{}
	ours := map[string]bool{}
	for _, u := range units {
		ours[u.repo.RepositoryStr()] = true
	}
	// The latest state first: its repositories are likeliest to be there.
	for i := len(locks) - 2; i >= 0; i-- {
		for _, img := range locks[i].Images {
			for _, n := range img.Names {
				repoName, _, ok := splitName(n)
				if !ok {
					continue // a damaged name in a base: nothing to look in
				}
				repo, err := t.Repository(repoName)
				if err != nil {
					return nil, err
				}
				if ours[repo.RepositoryStr()] {
					continue
				}
				for _, bl := range img.Blobs() {
					if !slices.ContainsFunc(out[bl.Digest], func(r name.Repository) bool { return r.RepositoryStr() == repo.RepositoryStr() }) {
						out[bl.Digest] = append(out[bl.Digest], repo)
					}
				}
			}
		}
	}
	return out, nil
}

// splitName splits "repo/path:tag".
func splitName(n string) (repo, tag string, ok bool) {
	i := strings.LastIndexByte(n, ':')
	if i <= 0 || strings.Contains(n[i:], "/") {
		return "", "", false
	}
	return n[:i], n[i+1:], true
}

// pusher is one Push.
type pusher struct {
	b      *bundle.Bundle
	t      Target
	o      Options
	units  []*unit
	log    *slog.Logger
	client *http.Client
	// earlier maps blobs to the repositories outside the push that the
	// earlier states of a delta went to (earlierRepos).
	earlier map[digest.Digest][]name.Repository

	// has records, per blob digest, the repositories of the target known
	// to hold it (from the plan, then as uploads land): those of this
	// push, and those of earlier states that the plan found holding it.
	mu      sync.Mutex
	has     map[digest.Digest][]name.Repository
	sources map[digest.Digest]*source

	progMu sync.Mutex
}

// source is a blob's first upload in this push, which mounts wait for.
type source struct {
	done chan struct{}
	repo name.Repository
	err  error
}

// event sends e to Options.Progress, one at a time.
func (p *pusher) event(e bundle.Event) {
	if p.o.Progress == nil {
		return
	}
	p.progMu.Lock()
	defer p.progMu.Unlock()
	p.o.Progress(e)
}

// connect resolves the credential and makes the authenticated client; a
// registry that cannot be reached or refuses the credential fails here,
// before anything is planned.
func (p *pusher) connect(ctx context.Context) error {
	auth := p.o.Auth
	if auth == nil {
		kc := p.o.Keychain
		if kc == nil {
			kc = authn.DefaultKeychain
		}
		a, err := kc.Resolve(p.t.Registry)
		if err != nil {
			return fmt.Errorf("reading the credentials for %s (docker's config.json): %w", p.t.Registry.RegistryStr(), err)
		}
		auth = a
	}
	inner := p.o.Transport
	if inner == nil {
		inner = http.DefaultTransport.(*http.Transport).Clone()
	}
	inner = httpsOnly{inner: inner, allowHTTP: p.t.Insecure}
	var scopes []string
	for _, u := range p.units {
		s := u.repo.Scope(transport.PushScope)
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	// Mounting from an earlier state's repository needs pull there.
	pushScopes := len(scopes)
	for _, repos := range p.earlier {
		for _, r := range repos {
			if s := r.Scope(transport.PullScope); !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	slices.Sort(scopes[pushScopes:]) // map order: keep the token request stable
	rt, err := transport.NewWithContext(ctx, p.t.Registry, auth, inner, scopes)
	if err != nil {
		return p.explain(err, "connecting", nil)
	}
	p.client = &http.Client{Transport: rt}
	// Basic auth is only checked by the first request that needs it.
	if _, _, err := p.headManifest(ctx, p.units[0].repo, p.units[0].tags[0]); err != nil {
		return p.explain(err, "checking the credentials", p.units[0])
	}
	return nil
}

// plan asks the registry which manifests and blobs each unit lacks.
func (p *pusher) plan(ctx context.Context) error {
	p.has = map[digest.Digest][]name.Repository{}
	p.sources = map[digest.Digest]*source{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.o.Jobs)
	var mu sync.Mutex
	for _, u := range p.units {
		for _, tag := range u.tags {
			g.Go(func() error {
				dig, ok, err := p.headManifest(gctx, u.repo, tag)
				if err != nil {
					return p.explain(err, "asking for manifest "+tag, u)
				}
				if !ok || dig != u.img.Digest {
					mu.Lock()
					u.missingTags = append(u.missingTags, tag)
					mu.Unlock()
				}
				return nil
			})
		}
		for _, bl := range u.img.Blobs() {
			g.Go(func() error {
				ok, err := p.headBlob(gctx, u.repo, bl.Digest)
				if err != nil {
					return p.explain(err, "asking for blob "+string(bl.Digest), u)
				}
				mu.Lock()
				defer mu.Unlock()
				if ok {
					p.has[bl.Digest] = append(p.has[bl.Digest], u.repo)
				} else {
					u.missingBlobs = append(u.missingBlobs, bl)
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := p.planEarlier(ctx); err != nil {
		return err
	}
	for _, u := range p.units {
		// Keep the lock's order: tags as named, blobs config first.
		slices.SortFunc(u.missingTags, func(a, b string) int { return slices.Index(u.tags, a) - slices.Index(u.tags, b) })
		order := u.img.Blobs()
		slices.SortFunc(u.missingBlobs, func(a, b bundle.Blob) int {
			return slices.IndexFunc(order, func(x bundle.Blob) bool { return x.Digest == a.Digest }) -
				slices.IndexFunc(order, func(x bundle.Blob) bool { return x.Digest == b.Digest })
		})
	}
	return nil
}

// planEarlier looks for each blob that no repository of the push holds in
// the repositories the earlier states of a delta went to (p.earlier), in
// turn until one holds it, Jobs blobs at a time; one found is mounted from
// there instead of sent. A repository that does not answer 200 (absent,
// or not readable with the credential) is passed over: the blob is then
// sent, as it would be without it.
func (p *pusher) planEarlier(ctx context.Context) error {
	if len(p.earlier) == 0 {
		return nil
	}
	var wanted []digest.Digest
	for _, u := range p.units {
		for _, bl := range u.missingBlobs {
			if len(p.has[bl.Digest]) == 0 && len(p.earlier[bl.Digest]) > 0 && !slices.Contains(wanted, bl.Digest) {
				wanted = append(wanted, bl.Digest)
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.o.Jobs)
	for _, d := range wanted {
		g.Go(func() error {
			for _, repo := range p.earlier[d] {
				ok, err := p.headBlob(gctx, repo, d)
				if err != nil {
					if gctx.Err() != nil {
						return context.Cause(gctx)
					}
					p.log.Debug("not mountable", "blob", d, "repository", repo.RepositoryStr(), "err", err)
					continue
				}
				if ok {
					p.mu.Lock()
					p.has[d] = append(p.has[d], repo)
					p.mu.Unlock()
					return nil
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// checkHeld makes sure the bundle holds every blob the plan says to send
// and every manifest to send: a delta opened without its base
// (bundle.OpenOptions.NoBase) lacks what only its base holds, which the
// registry then must have already.
func (p *pusher) checkHeld() error {
	var lacking []string
	seen := map[digest.Digest]bool{}
	lack := func(img bundle.Image, d digest.Digest) {
		if _, ok := p.b.BlobSize(d); !ok && !seen[d] {
			seen[d] = true
			lacking = append(lacking, fmt.Sprintf("%s of %s", d, img.Ref))
		}
	}
	for _, u := range p.units {
		for _, bl := range u.missingBlobs {
			if len(p.has[bl.Digest]) == 0 {
				lack(u.img, bl.Digest)
			}
		}
		if len(u.missingTags) > 0 {
			lack(u.img, u.img.Digest)
		}
	}
	if len(lacking) == 0 {
		return nil
	}
	more := ""
	if len(lacking) > 3 {
		more = fmt.Sprintf(" and %d more", len(lacking)-3)
		lacking = lacking[:3]
	}
	what := fmt.Sprintf("%s needs blobs that neither it nor %s holds (%s%s)", p.b.Name(), p.t, strings.Join(lacking, ", "), more)
	// The first bundle given names the base that is missing.
	locks := p.b.Locks()
	if base := locks[0].Base; base != nil {
		file, deltas := "BASE.tar", p.b.Name()
		if base.File != "" {
			file = base.File
		}
		if len(locks) > 1 {
			deltas = "… " + deltas
		}
		return fmt.Errorf("%w: %s: it is a delta given without its base (lock sha256:%s); give the base first: paimirror push %s %s %s",
			bundle.ErrWrongBase, what, base.LockSHA256, file, deltas, p.t)
	}
	return fmt.Errorf("%w: %s; its lock names them: run paimirror verify on it", bundle.ErrCorrupt, what)
}

// summary counts the plan: the blobs to send are those no repository of
// the push holds, once each; the rest of the missing pairs are mounts.
func (p *pusher) summary() *Result {
	res := &Result{}
	type image struct {
		digest digest.Digest
		ref    string
	}
	seenImg := map[image]bool{}
	pushImg := map[image]bool{}
	sent := map[digest.Digest]bool{}
	for _, u := range p.units {
		img := image{u.img.Digest, u.img.Ref}
		if !seenImg[img] {
			seenImg[img] = true
			res.Images++
		}
		if len(u.missingTags) > 0 || len(u.missingBlobs) > 0 {
			pushImg[img] = true
		}
		res.Manifests += len(u.missingTags)
		res.Present += len(u.img.Blobs()) - len(u.missingBlobs)
		for _, bl := range u.missingBlobs {
			if len(p.has[bl.Digest]) > 0 || sent[bl.Digest] {
				res.Mounted++
				continue
			}
			sent[bl.Digest] = true
			res.Uploaded++
			res.UploadedBytes += bl.Size
		}
	}
	res.Pushed = len(pushImg)
	return res
}

// run sends what the plan found missing. Units start in lock order and
// each first uploads the blobs it is the first to need, then mounts the
// ones an earlier unit uploads (or another repository holds), then sends
// its manifests; a mount thus only ever waits for a unit that started
// before it, which never waits for it.
func (p *pusher) run(ctx context.Context, planned *Result) (*Result, error) {
	p.event(bundle.Event{Kind: bundle.EventPlanned, Items: planned.Images, Total: planned.UploadedBytes})
	// Designate each blob's uploader: its first unit, unless a repository
	// of the push holds it already.
	uploader := map[digest.Digest]*unit{}
	for _, u := range p.units {
		for _, bl := range u.missingBlobs {
			if _, ok := uploader[bl.Digest]; !ok && len(p.has[bl.Digest]) == 0 {
				uploader[bl.Digest] = u
				p.sources[bl.Digest] = &source{done: make(chan struct{})}
			}
		}
	}
	res := &Result{Images: planned.Images, Present: planned.Present}
	var resMu sync.Mutex
	add := func(f func(*Result)) { resMu.Lock(); f(res); resMu.Unlock() }

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	transfers := make(chan struct{}, p.o.Jobs)
	var fatal atomic.Pointer[error]

	// Each image is done when all its units are.
	remaining := map[string]int{}
	for _, u := range p.units {
		remaining[u.img.Ref]++
	}
	failed := map[string]error{}
	pushed := map[string]bool{}
	var doneMu sync.Mutex
	finish := func(u *unit, sentSomething bool, err error) {
		doneMu.Lock()
		defer doneMu.Unlock()
		if err != nil && failed[u.img.Ref] == nil {
			failed[u.img.Ref] = err
		}
		if sentSomething {
			pushed[u.img.Ref] = true
		}
		remaining[u.img.Ref]--
		if remaining[u.img.Ref] == 0 && failed[u.img.Ref] == nil {
			p.event(bundle.Event{Kind: bundle.EventItemDone, Item: u.img.Ref})
		}
	}

	var units errgroup.Group
	units.SetLimit(p.o.Jobs)
	for _, u := range p.units {
		if ctx.Err() != nil {
			break
		}
		units.Go(func() error {
			err := p.runUnit(ctx, u, uploader, transfers, add)
			if err != nil && isFatal(err) {
				if fatal.CompareAndSwap(nil, &err) {
					cancel(err)
				}
			}
			finish(u, len(u.missingTags) > 0 || len(u.missingBlobs) > 0, err)
			return nil
		})
	}
	_ = units.Wait()
	for ref := range failed {
		delete(pushed, ref)
	}
	res.Pushed = len(pushed)
	if f := fatal.Load(); f != nil {
		return res, *f
	}
	if len(failed) > 0 {
		e := &Error{Total: res.Images}
		for _, img := range selectOrder(p.units) {
			if err := failed[img]; err != nil {
				e.Failed = append(e.Failed, ImageError{Ref: img, Err: err})
			}
		}
		return res, e
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, nil
}

// selectOrder returns the units' image refs, once each, in order.
func selectOrder(units []*unit) []string {
	var refs []string
	for _, u := range units {
		if !slices.Contains(refs, u.img.Ref) {
			refs = append(refs, u.img.Ref)
		}
	}
	return refs
}

// runUnit sends one unit's missing blobs, then its manifests.
func (p *pusher) runUnit(ctx context.Context, u *unit, uploader map[digest.Digest]*unit, transfers chan struct{}, add func(func(*Result))) error {
	g, gctx := errgroup.WithContext(ctx)
	acquire := func() error {
		select {
		case transfers <- struct{}{}:
			return nil
		case <-gctx.Done():
			return context.Cause(gctx)
		}
	}
	release := func() { <-transfers }
	for _, bl := range u.missingBlobs {
		if uploader[bl.Digest] == u {
			g.Go(func() error {
				if err := acquire(); err != nil {
					return err
				}
				err := p.uploadBlob(gctx, u, bl, "")
				release()
				src := p.sources[bl.Digest]
				src.repo, src.err = u.repo, err
				close(src.done)
				if err == nil {
					add(func(r *Result) { r.Uploaded++; r.UploadedBytes += bl.Size })
				}
				return err
			})
		}
	}
	for _, bl := range u.missingBlobs {
		if uploader[bl.Digest] == u {
			continue
		}
		g.Go(func() error {
			from, err := p.mountSource(gctx, bl.Digest)
			if err != nil {
				return err
			}
			if err := acquire(); err != nil {
				return err
			}
			defer release()
			mounted, err := p.mountOrUpload(gctx, u, bl, from)
			if err == nil {
				add(func(r *Result) {
					if mounted {
						r.Mounted++
					} else {
						r.Uploaded++
						r.UploadedBytes += bl.Size
					}
				})
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(u.missingTags) == 0 {
		return nil // a delta opened alone may lack a manifest its base holds
	}
	manifest, err := p.b.ReadBlob(u.img.Digest, maxManifest)
	if err != nil {
		return fmt.Errorf("reading manifest %s from the bundle: %w (paimirror verify checks the bundle)", u.img.Digest, err)
	}
	for _, tag := range u.missingTags {
		if err := p.retry(ctx, u.img.Ref+" manifest", func() error {
			return p.putManifest(ctx, u.repo, tag, manifest, u.img.MediaType)
		}); err != nil {
			return p.explain(err, "sending manifest "+tag, u)
		}
		add(func(r *Result) { r.Manifests++ })
	}
	return nil
}

// maxManifest bounds a manifest read from the bundle (the registry's own
// limit is 4 MiB).
const maxManifest = 4 << 20

// mountSource waits for the blob's upload in this push, if any, and
// returns a repository that holds it ("" if none: upload it).
func (p *pusher) mountSource(ctx context.Context, d digest.Digest) (string, error) {
	p.mu.Lock()
	src := p.sources[d]
	has := p.has[d]
	p.mu.Unlock()
	if src != nil {
		select {
		case <-src.done:
		case <-ctx.Done():
			return "", context.Cause(ctx)
		}
		if src.err == nil {
			return src.repo.RepositoryStr(), nil
		}
		return "", nil // its upload failed: try it here
	}
	if len(has) > 0 {
		return has[0].RepositoryStr(), nil
	}
	return "", nil
}

// mountOrUpload links bl into u's repository from the repository from,
// or sends its bytes when from is "" or the registry declines the mount.
func (p *pusher) mountOrUpload(ctx context.Context, u *unit, bl bundle.Blob, from string) (mounted bool, err error) {
	if from == "" {
		return false, p.uploadBlob(ctx, u, bl, "")
	}
	loc, mounted, err := p.startUpload(ctx, u.repo, bl.Digest, from)
	if err != nil {
		return false, p.explain(err, "mounting blob "+string(bl.Digest), u)
	}
	if mounted {
		p.log.Debug("mounted", "blob", bl.Digest, "repository", u.repo.RepositoryStr(), "from", from)
		return true, nil
	}
	// Declined (another registry's policy, or the source's blob went
	// away): send the bytes to the upload the registry opened.
	return false, p.uploadBlob(ctx, u, bl, loc)
}

// uploadBlob sends bl to u's repository, retrying what may pass; loc is an
// upload already opened, or "".
func (p *pusher) uploadBlob(ctx context.Context, u *unit, bl bundle.Blob, loc string) error {
	item := shortRepo(u.repo) + "@" + short(bl.Digest)
	p.event(bundle.Event{Kind: bundle.EventStart, Item: item, Total: bl.Size})
	err := p.retry(ctx, item, func() error {
		if loc == "" {
			l, _, err := p.startUpload(ctx, u.repo, bl.Digest, "")
			if err != nil {
				return err
			}
			loc = l
		}
		sent, err := p.putBlob(ctx, loc, bl, item)
		loc = "" // an upload is used once
		if err != nil && sent > 0 {
			p.event(bundle.Event{Kind: bundle.EventDiscarded, Item: item, Bytes: sent})
		}
		return err
	})
	if err != nil {
		return p.explain(err, "sending blob "+string(bl.Digest), u)
	}
	p.event(bundle.Event{Kind: bundle.EventDone, Item: item})
	p.mu.Lock()
	p.has[bl.Digest] = append(p.has[bl.Digest], u.repo)
	p.mu.Unlock()
	return nil
}

// retry runs f until it succeeds, fails for good, or has failed
// Options.Retries+1 times, waiting 0.5s, 1s, 2s… (with jitter) between.
func (p *pusher) retry(ctx context.Context, item string, f func() error) error {
	wait := 500 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := f()
		if err == nil || attempt >= p.o.Retries || !temporary(err) || ctx.Err() != nil {
			return err
		}
		d := wait/2 + rand.N(wait)
		p.event(bundle.Event{Kind: bundle.EventRetry, Item: item, Err: err, Wait: d, Source: p.t.Registry.RegistryStr()})
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return err
		}
		wait *= 2
	}
}

// temporary reports whether err may pass when tried again: a transport
// failure, a 5xx or 429.
func temporary(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode >= 500 || te.StatusCode == http.StatusTooManyRequests
	}
	if isFatal(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return true
}

// headManifest returns the digest the registry serves for repo:tag, or
// ok false when it has none.
func (p *pusher) headManifest(ctx context.Context, repo name.Repository, tag string) (d digest.Digest, ok bool, err error) {
	u := p.url(repo, "manifests/"+tag)
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.String(), nil)
	if err != nil {
		return "", false, err
	}
	req.Header.Set("Accept", strings.Join(manifestTypes, ", "))
	resp, err := p.client.Do(req)
	if err != nil {
		return "", false, redact.Error(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return "", false, nil
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return "", false, err
	}
	return digest.Digest(resp.Header.Get("Docker-Content-Digest")), true, nil
}

// manifestTypes are the manifest media types a HEAD accepts.
var manifestTypes = []string{
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
}

// headBlob reports whether repo holds the blob.
func (p *pusher) headBlob(ctx context.Context, repo name.Repository, d digest.Digest) (bool, error) {
	u := p.url(repo, "blobs/"+string(d))
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.String(), nil)
	if err != nil {
		return false, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return false, redact.Error(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return false, err
	}
	return true, nil
}

// startUpload opens an upload in repo, asking to mount digest from the
// repository from when from is not "": mounted is true when the registry
// linked it (201), else loc is the upload to send the bytes to.
func (p *pusher) startUpload(ctx context.Context, repo name.Repository, d digest.Digest, from string) (loc string, mounted bool, err error) {
	u := p.url(repo, "blobs/uploads/")
	if from != "" {
		u.RawQuery = url.Values{"mount": {string(d)}, "from": {from}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return "", false, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return "", false, redact.Error(err)
	}
	defer resp.Body.Close()
	if from != "" && resp.StatusCode == http.StatusCreated {
		return "", true, nil
	}
	if err := transport.CheckError(resp, http.StatusAccepted); err != nil {
		return "", false, err
	}
	l, err := resp.Location()
	if err != nil {
		return "", false, fmt.Errorf("the registry opened an upload without a Location: %w", err)
	}
	if l.Host != u.Host {
		return "", false, fmt.Errorf("the registry sent the upload to another host (%s); paimirror only sends bytes to %s", l.Host, u.Host)
	}
	return l.String(), false, nil
}

// putBlob sends the blob's bytes to the upload loc in one PUT, straight
// from the bundle file, and returns how many were sent.
func (p *pusher) putBlob(ctx context.Context, loc string, bl bundle.Blob, item string) (int64, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return 0, err
	}
	q := u.Query()
	q.Set("digest", string(bl.Digest))
	u.RawQuery = q.Encode()
	sr, err := p.b.Blob(bl.Digest)
	if err != nil {
		return 0, fmt.Errorf("blob %s: %w (paimirror verify checks the bundle)", bl.Digest, err)
	}
	body := &progressReader{r: sr, report: func(n int64) { p.event(bundle.Event{Kind: bundle.EventBytes, Item: item, Bytes: n}) }}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), body)
	if err != nil {
		return 0, err
	}
	req.ContentLength = bl.Size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := p.client.Do(req)
	if err != nil {
		// net/http's error names the upload's URL, whose query holds
		// the registry's signed upload state.
		return body.n, redact.Error(err)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusCreated); err != nil {
		return body.n, err
	}
	return body.n, nil
}

// putManifest sends a manifest, byte for byte, as repo:tag.
func (p *pusher) putManifest(ctx context.Context, repo name.Repository, tag string, manifest []byte, mediaType string) error {
	u := p.url(repo, "manifests/"+tag)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), strings.NewReader(string(manifest)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mediaType)
	resp, err := p.client.Do(req)
	if err != nil {
		return redact.Error(err)
	}
	defer resp.Body.Close()
	return transport.CheckError(resp, http.StatusCreated, http.StatusOK)
}

// url returns the registry API URL /v2/REPO/rest. The transport picks the
// scheme its ping found.
func (p *pusher) url(repo name.Repository, rest string) url.URL {
	return url.URL{Scheme: p.t.Registry.Scheme(), Host: p.t.Registry.RegistryStr(), Path: "/v2/" + repo.RepositoryStr() + "/" + rest}
}

// progressReader counts the bytes read through it and reports them.
type progressReader struct {
	r      io.Reader
	n      int64
	report func(int64)
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if n > 0 {
		r.n += int64(n)
		r.report(int64(n))
	}
	return n, err
}

// shortRepo drops the registry host.
func shortRepo(r name.Repository) string { return r.RepositoryStr() }

// short returns the first 12 hex digits of a digest.
func short(d digest.Digest) string {
	_, hex, _ := strings.Cut(string(d), ":")
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return hex
}

// httpsOnly refuses plain-HTTP requests to the registry unless allowed, so
// that a registry on a private address is never spoken to (or sent
// credentials) in clear by go-containerregistry's HTTPS/HTTP race unless
// --insecure said so.
type httpsOnly struct {
	inner     http.RoundTripper
	allowHTTP bool
}

func (h httpsOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" && !h.allowHTTP {
		return nil, errPlainHTTP
	}
	return h.inner.RoundTrip(r)
}

var errPlainHTTP = errors.New("plain HTTP refused without --insecure")
