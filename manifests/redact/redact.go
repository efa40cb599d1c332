package redact

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// Mask replaces each query value that is not Allowed.
const Mask = "REDACTED"

// hiddenUser replaces a URL's password, or a user given without one.
const hiddenUser = "xxxxx"

// allowed are the query keys whose values are shown: those of the
// registry API, which carry no secret.
var allowed = map[string]bool{
	"scope":   true, // a token request's
	"service": true,
	"mount":   true, // a cross-repository mount's
	"from":    true,
	"digest":  true, // the PUT that ends an upload
	"n":       true, // tag and catalog listings
	"last":    true,
}

// Allowed reports whether the values of query key are shown (see the
// package documentation).
func Allowed(key string) bool { return allowed[key] }

// URL returns s, a URL or a URL reference, with its userinfo and query
// values hidden by the package's rule; s without either is returned as
// it is. It does not check that s is a valid URL.
func URL(s string) string {
	rest, head := s, ""
	if i := strings.Index(s, "://"); i > 0 && scheme(s[:i]) {
		head, rest = s[:i+3], s[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
			user := hiddenUser
			if name, _, ok := strings.Cut(rest[:at], ":"); ok {
				user = name + ":" + hiddenUser
			}
			head += user + "@" + rest[at+1:end]
			rest = rest[end:]
		}
	}
	frag := ""
	if h := strings.IndexByte(rest, '#'); h >= 0 {
		rest, frag = rest[:h], rest[h:]
	}
	q := strings.IndexByte(rest, '?')
	if q < 0 {
		return head + rest + frag
	}
	return head + rest[:q+1] + redactQuery(rest[q+1:]) + frag
}

// redactQuery hides the values of a raw query's parts, in place.
func redactQuery(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if key, err := url.QueryUnescape(k); err == nil {
			k = key
		}
		switch {
		case p == "" || (ok && v == ""), Allowed(k):
		case !ok:
			parts[i] = Mask
		default:
			parts[i] = p[:len(p)-len(v)] + Mask
		}
	}
	return strings.Join(parts, "&")
}

// scheme reports whether s is a URL scheme: a letter, then letters,
// digits, '+', '-' or '.'.
func scheme(s string) bool {
	if s == "" || !letter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !schemeByte(s[i]) {
			return false
		}
	}
	return true
}

func letter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func schemeByte(c byte) bool {
	return letter(c) || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

// schemeStart returns where the scheme before the "://" at s[j:] begins,
// not before from: j when there is none.
func schemeStart(s string, from, j int) int {
	start := j
	for start > from && schemeByte(s[start-1]) {
		start--
	}
	for start < j && !letter(s[start]) {
		start++
	}
	return start
}

// ends reports whether c ends a URL inside a text.
func ends(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f', '"', '\'', '`', '<', '>', '\\':
		return true
	}
	return false
}

// trailing are the characters that end a sentence or close a bracket
// after a URL rather than belong to it.
const trailing = ".,;:!?)]}"

// Text returns s with every URL in it (scheme://…, up to a space, a
// quote, an angle bracket or the next scheme://, without trailing
// punctuation) passed through URL. A text without "://" is returned as it
// is.
func Text(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	var b strings.Builder
	done := 0 // s[:done] is written
	for i := 0; ; {
		j := strings.Index(s[i:], "://")
		if j < 0 {
			break
		}
		j += i
		start := schemeStart(s, done, j)
		if start == j {
			i = j + 3
			continue
		}
		end := j + 3
		for end < len(s) && !ends(s[end]) {
			end++
		}
		// Another URL may follow without a space: this one ends where
		// its scheme begins.
		for k := j + 3; ; {
			n := strings.Index(s[k:end], "://")
			if n < 0 {
				break
			}
			n += k
			if ns := schemeStart(s, j+3, n); ns < n {
				end = ns
				break
			}
			k = n + 3
		}
		for end > j+3 && strings.IndexByte(trailing, s[end-1]) >= 0 {
			end--
		}
		b.WriteString(s[done:start])
		b.WriteString(URL(s[start:end]))
		done = end
		i = max(end, j+3)
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// Error returns err with its message passed through Text, or err itself
// when that changes nothing. A *url.Error (what net/http's client returns,
// whose message holds the request's URL) stays a *url.Error, its URL
// redacted, so its Timeout and errors.As find what they did; any other
// error is wrapped, and errors.Is and errors.As see through the wrapper.
func Error(err error) error {
	if err == nil {
		return nil
	}
	if ue, ok := err.(*url.Error); ok {
		inner := Error(ue.Err)
		if u := URL(ue.URL); u != ue.URL || inner != ue.Err {
			return &url.Error{Op: ue.Op, URL: u, Err: inner}
		}
		return err
	}
	msg := err.Error()
	if r := Text(msg); r != msg {
		return &redacted{msg: r, err: err}
	}
	return err
}

// redacted is an error whose message is hidden in part.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// Handler returns a slog.Handler that passes each record to h with its
// message, its string, error and fmt.Stringer attributes (in groups too)
// passed through Text. Its cost is that of Text on each of them.
func Handler(h slog.Handler) slog.Handler {
	if _, ok := h.(handler); ok {
		return h
	}
	return handler{h}
}

// Logger returns a logger that writes through Handler(l's handler); nil
// for nil.
func Logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return nil
	}
	return slog.New(Handler(l.Handler()))
}

type handler struct{ h slog.Handler }

func (h handler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Text(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(attr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h handler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = attr(a)
	}
	return handler{h.h.WithAttrs(out)}
}

func (h handler) WithGroup(name string) slog.Handler { return handler{h.h.WithGroup(name)} }

// attr returns a with its value's URLs redacted.
func attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); Text(s) != s {
			return slog.String(a.Key, Text(s))
		}
	case slog.KindGroup:
		g := v.Group()
		out := make([]slog.Attr, len(g))
		for i, c := range g {
			out[i] = attr(c)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		var s string
		switch x := v.Any().(type) {
		case error:
			s = x.Error()
		case fmt.Stringer:
			s = x.String()
		default:
			return slog.Attr{Key: a.Key, Value: v}
		}
		if r := Text(s); r != s {
			return slog.String(a.Key, r)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
