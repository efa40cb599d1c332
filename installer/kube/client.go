package kube

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Client talks to one Kubernetes API server. Make it with New.
type Client struct {
	base    *url.URL
	token   string
	http    *http.Client
	log     *slog.Logger
	poll    time.Duration
	pageLen int
}

// Option configures a Client.
type Option func(*Client)

// WithLogger logs each request (method, path, status, duration; never
// credentials) at debug level. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.log = l
		}
	}
}

// WithTimeout bounds each request. Default 30 seconds; waits such as
// WaitClaimBound are bounded by their context instead.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.http.Timeout = d
		}
	}
}

// WithPollInterval sets how often waits such as WaitClaimBound ask the API
// server again. Default 500 milliseconds.
func WithPollInterval(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.poll = d
		}
	}
}

// New returns a client for the API server cfg describes.
func New(cfg *Config, opts ...Option) (*Client, error) {
	base, err := url.Parse(cfg.Server)
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") {
		return nil, configErr("server %q is not an http(s) URL", cfg.Server)
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: cfg.Insecure, //nolint:gosec // the kubeconfig asked for it
		ServerName:         cfg.TLSServerName,
	}
	if len(cfg.CAData) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CAData) {
			return nil, configErr("certificate authority holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	if len(cfg.CertData) > 0 || len(cfg.KeyData) > 0 {
		cert, err := tls.X509KeyPair(cfg.CertData, cfg.KeyData)
		if err != nil {
			return nil, configErr("client certificate and key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	c := &Client{
		base:    base,
		token:   cfg.Token,
		http:    &http.Client{Transport: tr, Timeout: 30 * time.Second},
		log:     slog.New(slog.DiscardHandler),
		poll:    500 * time.Millisecond,
		pageLen: 500,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Server is the API server's URL.
func (c *Client) Server() string { return c.base.String() }

// ServerVersion returns the API server's version (GET /version).
func (c *Client) ServerVersion(ctx context.Context) (*Version, error) {
	var v Version
	if err := c.do(ctx, http.MethodGet, "/version", nil, "", nil, &v); err != nil {
		return nil, fmt.Errorf("asking the api server's version: %w", err)
	}
	return &v, nil
}

// do sends one request: body (if not nil) as JSON, or as contentType when
// that is set; the answer decoded into out (if not nil). An error status
// becomes an *APIError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, contentType string, body any, out any) error {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = query.Encode()

	var rd io.Reader
	if body != nil {
		var b []byte
		switch v := body.(type) {
		case []byte:
			b = v
		default:
			var err error
			if b, err = json.Marshal(body); err != nil {
				return fmt.Errorf("encoding the request: %w", err)
			}
		}
		rd = bytes.NewReader(b)
		if contentType == "" {
			contentType = "application/json"
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "paimirror")
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.log.DebugContext(ctx, "kube request", "method", method, "path", path, "err", err)
		return err
	}
	defer resp.Body.Close()
	c.log.DebugContext(ctx, "kube request", "method", method, "path", path, "status", resp.StatusCode, "duration", time.Since(start))

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return apiError(resp.StatusCode, data)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decoding the answer to %s %s: %w", method, path, err)
	}
	return nil
}

// apiError turns an error answer into an *APIError, from its Status object
// when it is one, else from its text.
func apiError(code int, data []byte) *APIError {
	var st status
	if json.Unmarshal(data, &st) == nil && st.Kind == "Status" {
		e := &APIError{Code: code, Reason: st.Reason, Message: st.Message}
		if st.Code != 0 {
			e.Code = st.Code
		}
		if e.Reason == "" {
			e.Reason = reasonFor(e.Code)
		}
		return e
	}
	msg := strings.TrimSpace(string(data))
	if !utf8.ValidString(msg) || strings.HasPrefix(msg, "<") {
		msg = "" // binary or an HTML error page: the status says more
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return &APIError{Code: code, Reason: reasonFor(code), Message: msg}
}

// listMeta is the metadata of a list answer.
type listMeta struct {
	Metadata struct {
		Continue string `json:"continue"`
	} `json:"metadata"`
}

// list gets every item of a collection, page by page.
func list[T any](ctx context.Context, c *Client, path string, query url.Values) ([]T, error) {
	if query == nil {
		query = url.Values{}
	}
	query.Set("limit", fmt.Sprint(c.pageLen))
	var all []T
	for {
		var page struct {
			listMeta
			Items []T `json:"items"`
		}
		if err := c.do(ctx, http.MethodGet, path, query, "", nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.Metadata.Continue == "" {
			return all, nil
		}
		query.Set("continue", page.Metadata.Continue)
	}
}

// ListNodes returns every node of the cluster.
func (c *Client) ListNodes(ctx context.Context) ([]Node, error) {
	nodes, err := list[Node](ctx, c, "/api/v1/nodes", nil)
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	return nodes, nil
}

// ListPods returns the pods of a namespace, or of every namespace when
// namespace is "".
func (c *Client) ListPods(ctx context.Context, namespace string) ([]Pod, error) {
	path := "/api/v1/pods"
	if namespace != "" {
		path = "/api/v1/namespaces/" + url.PathEscape(namespace) + "/pods"
	}
	pods, err := list[Pod](ctx, c, path, nil)
	if err != nil {
		if namespace == "" {
			return nil, fmt.Errorf("listing pods: %w", err)
		}
		return nil, fmt.Errorf("listing pods in %s: %w", namespace, err)
	}
	return pods, nil
}

// ListEvents returns the events about one object in a namespace (matched by
// its UID when set, else by kind and name), oldest first.
func (c *Client) ListEvents(ctx context.Context, namespace string, about ObjectReference) ([]Event, error) {
	var sel []string
	if about.UID != "" {
		sel = append(sel, "involvedObject.uid="+about.UID)
	} else {
		if about.Kind != "" {
			sel = append(sel, "involvedObject.kind="+about.Kind)
		}
		if about.Name != "" {
			sel = append(sel, "involvedObject.name="+about.Name)
		}
	}
	q := url.Values{}
	if len(sel) > 0 {
		q.Set("fieldSelector", strings.Join(sel, ","))
	}
	events, err := list[Event](ctx, c, "/api/v1/namespaces/"+url.PathEscape(namespace)+"/events", q)
	if err != nil {
		return nil, fmt.Errorf("listing events of %s %s/%s: %w", strings.ToLower(about.Kind), namespace, about.Name, err)
	}
	sortEvents(events)
	return events, nil
}

func pvPath(name string) string {
	return "/api/v1/persistentvolumes/" + url.PathEscape(name)
}

func pvcPath(namespace, name string) string {
	p := "/api/v1/namespaces/" + url.PathEscape(namespace) + "/persistentvolumeclaims"
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

// GetPersistentVolume returns the named persistent volume; an error matching
// ErrNotFound when there is none.
func (c *Client) GetPersistentVolume(ctx context.Context, name string) (*PersistentVolume, error) {
	var pv PersistentVolume
	if err := c.do(ctx, http.MethodGet, pvPath(name), nil, "", nil, &pv); err != nil {
		return nil, fmt.Errorf("getting persistentvolume %s: %w", name, err)
	}
	return &pv, nil
}

// CreatePersistentVolume creates pv and returns it as stored; an error
// matching ErrAlreadyExists when one of that name exists.
func (c *Client) CreatePersistentVolume(ctx context.Context, pv *PersistentVolume) (*PersistentVolume, error) {
	in := *pv
	in.APIVersion, in.Kind = "v1", "PersistentVolume"
	var out PersistentVolume
	if err := c.do(ctx, http.MethodPost, "/api/v1/persistentvolumes", nil, "", &in, &out); err != nil {
		return nil, fmt.Errorf("creating persistentvolume %s: %w", pv.Metadata.Name, err)
	}
	return &out, nil
}

// DeletePersistentVolume asks for the named persistent volume to be deleted;
// it is gone once its finalizers are cleared.
func (c *Client) DeletePersistentVolume(ctx context.Context, name string) error {
	if err := c.do(ctx, http.MethodDelete, pvPath(name), nil, "", nil, nil); err != nil {
		return fmt.Errorf("deleting persistentvolume %s: %w", name, err)
	}
	return nil
}

// PatchPersistentVolume applies a JSON merge patch (RFC 7386) to the named
// persistent volume and returns the result.
func (c *Client) PatchPersistentVolume(ctx context.Context, name string, mergePatch []byte) (*PersistentVolume, error) {
	var out PersistentVolume
	if err := c.do(ctx, http.MethodPatch, pvPath(name), nil, "application/merge-patch+json", mergePatch, &out); err != nil {
		return nil, fmt.Errorf("patching persistentvolume %s: %w", name, err)
	}
	return &out, nil
}

// GetPersistentVolumeClaim returns the named claim; an error matching
// ErrNotFound when there is none.
func (c *Client) GetPersistentVolumeClaim(ctx context.Context, namespace, name string) (*PersistentVolumeClaim, error) {
	var pvc PersistentVolumeClaim
	if err := c.do(ctx, http.MethodGet, pvcPath(namespace, name), nil, "", nil, &pvc); err != nil {
		return nil, fmt.Errorf("getting persistentvolumeclaim %s/%s: %w", namespace, name, err)
	}
	return &pvc, nil
}

// CreatePersistentVolumeClaim creates pvc in its namespace and returns it as
// stored; an error matching ErrAlreadyExists when one of that name exists.
func (c *Client) CreatePersistentVolumeClaim(ctx context.Context, pvc *PersistentVolumeClaim) (*PersistentVolumeClaim, error) {
	in := *pvc
	in.APIVersion, in.Kind = "v1", "PersistentVolumeClaim"
	ns := in.Metadata.Namespace
	if ns == "" {
		ns = "default"
	}
	var out PersistentVolumeClaim
	if err := c.do(ctx, http.MethodPost, pvcPath(ns, ""), nil, "", &in, &out); err != nil {
		return nil, fmt.Errorf("creating persistentvolumeclaim %s/%s: %w", ns, pvc.Metadata.Name, err)
	}
	return &out, nil
}

// DeletePersistentVolumeClaim asks for the named claim to be deleted; it is
// gone once its finalizers are cleared.
func (c *Client) DeletePersistentVolumeClaim(ctx context.Context, namespace, name string) error {
	if err := c.do(ctx, http.MethodDelete, pvcPath(namespace, name), nil, "", nil, nil); err != nil {
		return fmt.Errorf("deleting persistentvolumeclaim %s/%s: %w", namespace, name, err)
	}
	return nil
}

// PatchPersistentVolumeClaim applies a JSON merge patch (RFC 7386) to the
// named claim and returns the result.
func (c *Client) PatchPersistentVolumeClaim(ctx context.Context, namespace, name string, mergePatch []byte) (*PersistentVolumeClaim, error) {
	var out PersistentVolumeClaim
	if err := c.do(ctx, http.MethodPatch, pvcPath(namespace, name), nil, "application/merge-patch+json", mergePatch, &out); err != nil {
		return nil, fmt.Errorf("patching persistentvolumeclaim %s/%s: %w", namespace, name, err)
	}
	return &out, nil
}

// clearFinalizers is the merge patch that removes every finalizer, as the
// seed guide's `kubectl patch ... -p '{"metadata":{"finalizers":null}}'`.
var clearFinalizers = []byte(`{"metadata":{"finalizers":null}}`)

// WaitClaimBound polls the named claim until it is Bound and returns it.
// When ctx ends first it returns the claim as last seen (nil if it was never
// read) with ctx's error.
func (c *Client) WaitClaimBound(ctx context.Context, namespace, name string) (*PersistentVolumeClaim, error) {
	var last *PersistentVolumeClaim
	err := c.pollUntil(ctx, func() (bool, error) {
		pvc, err := c.GetPersistentVolumeClaim(ctx, namespace, name)
		if err != nil {
			return false, err
		}
		last = pvc
		return pvc.Status.Phase == "Bound", nil
	})
	return last, err
}

// pollUntil calls done now and then every poll interval until it returns
// true or an error, or ctx ends.
func (c *Client) pollUntil(ctx context.Context, done func() (bool, error)) error {
	t := time.NewTicker(c.poll)
	defer t.Stop()
	for {
		ok, err := done()
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
				return ctxErr
			}
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
