package fetch

import (
	"context"
	"fmt"
	"net/http"

	"github.com/paimirror/paimirror/manifests/redact"
)

// Patient returns a RoundTripper over rt for the small requests a build
// makes outside Fetch: image manifests and tokens through
// go-containerregistry, package index pages. It gives them the engine's
// patience with a server that asks to wait: a GET or HEAD without a body
// answered 429 Too Many Requests or 503 Service Unavailable is sent again
// after the server's Retry-After (capped at Options.MaxRetryAfter) or,
// without one, after the engine's backoff, up to Options.Retries times in
// a row; each wait is reported to Options.Progress as a Retrying event
// (Item the request's URL without its credentials, as redact.URL shows
// it; Source its host; Err the status). The last
// answer is returned as it came when the retries run out, and a cancelled
// request context ends a wait at once.
//
// Docker Hub's pull limit is counted on manifests, so its 429s come there
// rather than on blobs. Requests Fetch makes itself (blobs) pass through
// untouched: Fetch has its own retries, which count progress.
func (e *Engine) Patient(rt http.RoundTripper) http.RoundTripper {
	return &patient{e: e, rt: rt}
}

type patient struct {
	e  *Engine
	rt http.RoundTripper
}

// engineRequest marks the context of a request Fetch makes.
type engineRequest struct{}

func fromEngine(ctx context.Context) bool { return ctx.Value(engineRequest{}) != nil }

func (p *patient) RoundTrip(req *http.Request) (*http.Response, error) {
	if fromEngine(req.Context()) || (req.Method != http.MethodGet && req.Method != http.MethodHead) || (req.Body != nil && req.Body != http.NoBody) {
		return p.rt.RoundTrip(req)
	}
	for attempt := 1; ; attempt++ {
		resp, err := p.rt.RoundTrip(req)
		if err != nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) || attempt > p.e.opts.Retries {
			return resp, err
		}
		wait := parseRetryAfter(resp.Header.Get("Retry-After"))
		switch {
		case wait <= 0:
			wait = backoff(p.e.opts.BackoffBase, p.e.opts.BackoffMax, attempt)
		case wait > p.e.opts.MaxRetryAfter:
			wait = p.e.opts.MaxRetryAfter
		}
		status := fmt.Errorf("%s answered %s", req.URL.Host, resp.Status)
		resp.Body.Close()
		if p.e.opts.Progress != nil {
			p.e.opts.Progress(Event{Kind: Retrying, Item: redact.URL(req.URL.String()), Source: req.URL.Host, Wait: wait, Err: status})
		}
		if !sleep(req.Context(), wait) {
			return nil, req.Context().Err()
		}
	}
}
