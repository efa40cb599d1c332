package registry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/paimirror/paimirror/fileserver/logclip"
)

// distribution logs through logrus's standard logger, a process-wide
// global, and logs ordinary client errors (an unknown manifest, a digest
// that does not match the upload) at error level. The first New takes that
// logger over: its own output is discarded and one hook hands each entry to
// the slog logger of the registry it came from.
//
// An entry is matched to its registry by the "instance.id" field, which
// distribution adds to every entry logged with a context carrying the
// string key "instance.id". Registry puts "<registry id>" on the context it
// gives NewApp and "<registry id>/<request number>" on each request's
// context. An entry with no known id and error level or worse goes to every
// live registry; other such entries are dropped.
//
// Entries of a request at warning level or worse are held until the request
// ends: if its response is a server error (5xx) they are logged at their
// own level (Error, Warn), otherwise they were about the client's mistake
// and are logged at Debug. Info and debug entries are Debug records at
// once; entries outside any request keep their level. logrus's level is
// Warn unless some live registry's logger takes Debug records, so
// distribution's chatter costs nothing by default.

// instanceKey is the context key distribution reads (as a plain string) to
// tag its log entries.
const instanceKey = "instance.id"

var (
	takeOverOnce sync.Once
	levelMu      sync.Mutex
	live         sync.Map // instance id -> *Registry
)

type nopFormatter struct{}

func (nopFormatter) Format(*logrus.Entry) ([]byte, error) { return nil, nil }

type routeHook struct{}

func (routeHook) Levels() []logrus.Level { return logrus.AllLevels }

func (routeHook) Fire(e *logrus.Entry) error {
	if v, ok := e.Data[instanceKey].(string); ok {
		id, _, _ := strings.Cut(v, "/")
		if r, ok := live.Load(id); ok {
			r.(*Registry).route(v, e)
			return nil
		}
	}
	if e.Level <= logrus.ErrorLevel {
		live.Range(func(_, r any) bool {
			r.(*Registry).logEntry(e, slogLevel(e.Level))
			return true
		})
	}
	return nil
}

// takeOverLogrus silences logrus's standard logger and installs the hook.
func takeOverLogrus() {
	takeOverOnce.Do(func() {
		l := logrus.StandardLogger()
		l.SetOutput(io.Discard)
		l.SetFormatter(nopFormatter{})
		l.SetReportCaller(false)
		l.AddHook(routeHook{})
		l.SetLevel(logrus.WarnLevel)
	})
}

// setLive adds or removes r from the registries that receive logrus
// entries, and sets logrus's level for the ones that remain.
func setLive(r *Registry, on bool) {
	levelMu.Lock()
	defer levelMu.Unlock()
	if on {
		live.Store(r.id, r)
	} else {
		live.Delete(r.id)
	}
	level := logrus.WarnLevel
	live.Range(func(_, v any) bool {
		if v.(*Registry).log.Enabled(context.Background(), slog.LevelDebug) {
			level = logrus.DebugLevel
			return false
		}
		return true
	})
	logrus.StandardLogger().SetLevel(level)
}

// requestLog holds a request's warnings and errors until its status is
// known.
type requestLog struct {
	mu      sync.Mutex
	done    bool
	entries []*logrus.Entry
}

// beginRequest starts holding the entries of the request with id reqID.
func (r *Registry) beginRequest(reqID string) *requestLog {
	rl := &requestLog{}
	r.requests.Store(reqID, rl)
	return rl
}

// endRequest logs the held entries of a request that answered status.
func (r *Registry) endRequest(reqID string, rl *requestLog, status int) {
	r.requests.Delete(reqID)
	rl.mu.Lock()
	entries := rl.entries
	rl.entries, rl.done = nil, true
	rl.mu.Unlock()
	for _, e := range entries {
		level := slog.LevelDebug
		if status >= 500 {
			level = slogLevel(e.Level)
		}
		r.logEntry(e, level)
	}
}

// route logs or holds an entry tagged with id ("<registry>" or
// "<registry>/<request>").
func (r *Registry) route(id string, e *logrus.Entry) {
	if e.Level <= logrus.WarnLevel {
		if v, ok := r.requests.Load(id); ok {
			rl := v.(*requestLog)
			rl.mu.Lock()
			if !rl.done {
				// The entry is reused by logrus once Fire returns.
				rl.entries = append(rl.entries, &logrus.Entry{Level: e.Level, Message: e.Message, Data: e.Data, Time: e.Time})
				rl.mu.Unlock()
				return
			}
			rl.mu.Unlock()
		}
	}
	r.logEntry(e, slogLevel(e.Level))
}

func slogLevel(l logrus.Level) slog.Level {
	switch {
	case l <= logrus.ErrorLevel:
		return slog.LevelError
	case l == logrus.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelDebug
	}
}

// logEntry passes one logrus entry on to r's slog logger at level.
func (r *Registry) logEntry(e *logrus.Entry, level slog.Level) {
	ctx := context.Background()
	if !r.log.Enabled(ctx, level) {
		return
	}
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		if k != instanceKey && k != "go.version" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	attrs := make([]slog.Attr, 0, len(keys)+1)
	attrs = append(attrs, slog.String("source", "distribution"))
	for _, k := range keys {
		v := e.Data[k]
		if err, ok := v.(error); ok {
			v = err.Error()
		} else if s, ok := v.(fmt.Stringer); ok {
			v = s.String()
		}
		// The request's URI, host, agent and route variables are the
		// client's to choose, and may be long.
		if s, ok := v.(string); ok && (strings.HasPrefix(k, "http.request.") || strings.HasPrefix(k, "vars.")) {
			v = logclip.Clip(s)
		}
		attrs = append(attrs, slog.Any(k, v))
	}
	r.log.LogAttrs(ctx, level, e.Message, attrs...)
}
