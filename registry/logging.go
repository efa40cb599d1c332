package registry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"

	"github.com/sirupsen/logrus"
)

// distribution logs through logrus's standard logger, a process-wide
// global, and logs ordinary client errors (an unknown manifest, a missing
// blob) at error level. The first New takes that logger over: its own
// output is discarded and one hook hands each entry to the slog logger of
// the registry it came from.
//
// An entry is matched to its registry by the "instance.id" field, which
// distribution adds to every entry logged with a context carrying the
// string key "instance.id"; Registry puts its id there on the context it
// gives NewApp and on every request's context. An entry with no known id
// and error level or worse goes to every live registry; other such entries
// are dropped.
//
// Levels: errors from responses with a status under 500 are client errors
// and become Debug records (the access log reports them as requests);
// other errors stay Error; warnings stay Warn; info and debug become Debug.
// logrus's level is Warn unless some live registry's logger takes Debug
// records, so distribution's chatter costs nothing by default.

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
	if id, ok := e.Data[instanceKey].(string); ok {
		if r, ok := live.Load(id); ok {
			r.(*Registry).logEntry(e)
			return nil
		}
	}
	if e.Level <= logrus.ErrorLevel {
		live.Range(func(_, r any) bool {
			r.(*Registry).logEntry(e)
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

// logEntry passes one logrus entry on to r's slog logger.
func (r *Registry) logEntry(e *logrus.Entry) {
	level := slog.LevelDebug
	switch {
	case e.Level <= logrus.ErrorLevel:
		level = slog.LevelError
		if status, ok := e.Data["http.response.status"].(int); ok && status < 500 {
			level = slog.LevelDebug
		}
	case e.Level == logrus.WarnLevel:
		level = slog.LevelWarn
	}
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
		attrs = append(attrs, slog.Any(k, v))
	}
	r.log.LogAttrs(ctx, level, e.Message, attrs...)
}
