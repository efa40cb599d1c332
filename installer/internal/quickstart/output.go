package quickstart

import (
	"bytes"
	"io"
	"regexp"
	"slices"
	"strings"
)

// Limits on what is kept of the output in memory; the log file gets all of
// it.
const (
	maxLineBytes  = 64 << 10 // a longer line is cut (in memory only)
	maxShownBytes = 2 << 10  // a line in LastLines, Status and errors
	mask          = "********"
	minSecretLen  = 4
)

// ansiRe matches terminal escape sequences (colour, cursor movement).
var ansiRe = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]`)

// secretKeyRe matches names of environment variables whose values are
// masked.
var secretKeyRe = regexp.MustCompile(`(?i)pass|secret|token|credential|private`)

// secrets collects the values to mask: opts.Secrets and the values of the
// variables in env whose names look secret, longest first, those shorter
// than minSecretLen left out.
func secrets(explicit, env []string) []string {
	var out []string
	add := func(v string) {
		if len(v) >= minSecretLen && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, v := range explicit {
		add(v)
	}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && secretKeyRe.MatchString(k) {
			add(v)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// masker replaces secrets in strings.
type masker struct{ r *strings.Replacer }

func newMasker(secrets []string) masker {
	if len(secrets) == 0 {
		return masker{}
	}
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		pairs = append(pairs, s, mask)
	}
	return masker{strings.NewReplacer(pairs...)}
}

func (m masker) String(s string) string {
	if m.r == nil {
		return s
	}
	return m.r.Replace(s)
}

// redactor is a streaming writer that masks secrets, including one split
// across two writes: it holds back the last len(longest secret)-1 bytes of
// each write until more output or Flush shows they are not the start of a
// secret.
type redactor struct {
	w       io.Writer
	secrets [][]byte // longest first
	maxLen  int
	held    []byte
	m       masker
}

func newRedactor(w io.Writer, secrets []string) *redactor {
	r := &redactor{w: w, m: newMasker(secrets)}
	for _, s := range secrets {
		r.secrets = append(r.secrets, []byte(s))
		r.maxLen = max(r.maxLen, len(s))
	}
	return r
}

func (r *redactor) Write(p []byte) (int, error) {
	if len(r.secrets) == 0 {
		return r.w.Write(p)
	}
	buf := append(slices.Clip(r.held), p...)
	safe := len(buf) - (r.maxLen - 1) // a secret starting before safe is wholly in buf
	var out []byte
	i := 0
	for {
		pos, n := r.next(buf, i)
		if pos < 0 || pos >= safe {
			break
		}
		out = append(out, buf[i:pos]...)
		out = append(out, mask...)
		i = pos + n
	}
	end := max(i, safe)
	if end > i {
		out = append(out, buf[i:end]...)
	}
	r.held = append(r.held[:0:0], buf[max(end, 0):]...)
	if len(out) > 0 {
		if _, err := r.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// next finds the earliest secret in buf at or after i; at equal positions
// the longest wins.
func (r *redactor) next(buf []byte, i int) (pos, n int) {
	pos = -1
	for _, s := range r.secrets {
		j := bytes.Index(buf[i:], s)
		if j >= 0 && (pos < 0 || i+j < pos) {
			pos, n = i+j, len(s)
		}
	}
	return pos, n
}

// Flush writes the held-back bytes, masked.
func (r *redactor) Flush() error {
	if len(r.held) == 0 {
		return nil
	}
	b := []byte(r.m.String(string(r.held)))
	r.held = r.held[:0]
	_, err := r.w.Write(b)
	return err
}

// ring keeps the last n lines.
type ring struct {
	lines []string
	next  int
	full  bool
}

func newRing(n int) *ring { return &ring{lines: make([]string, n)} }

func (r *ring) add(s string) {
	if len(r.lines) == 0 {
		return
	}
	r.lines[r.next] = s
	r.next = (r.next + 1) % len(r.lines)
	if r.next == 0 {
		r.full = true
	}
}

// last returns the kept lines, oldest first.
func (r *ring) last() []string {
	if !r.full {
		return slices.Clone(r.lines[:r.next])
	}
	return append(slices.Clone(r.lines[r.next:]), r.lines[:r.next]...)
}

// Output that marks where a script is.
var (
	playRe = regexp.MustCompile(`^PLAY \[(.*)\] \*{3,}\s*$`)
	taskRe = regexp.MustCompile(`^(?:TASK|RUNNING HANDLER) \[(.*)\] \*{3,}\s*$`)
	// stepRe matches the scripts' own announcements, such as
	// "Checking requirements..." or "Starting kubernetes...".
	stepRe = regexp.MustCompile(`^[A-Z][^\t]{0,118}\.\.\.\s*$`)
)

// parseStatus returns the Status a line of output announces, if any.
func parseStatus(line string) (Status, bool) {
	if m := playRe.FindStringSubmatch(line); m != nil {
		return Status{Phase: PhasePlay, Text: m[1], Line: line}, true
	}
	if m := taskRe.FindStringSubmatch(line); m != nil {
		return Status{Phase: PhaseTask, Text: m[1], Line: line}, true
	}
	if stepRe.MatchString(line) {
		return Status{Phase: PhaseScript, Text: strings.TrimRight(line, " \t."), Line: line}, true
	}
	return Status{}, false
}

// cleanLine turns raw output into display text: what is after the last
// carriage return (progress bars redraw a line that way), without escape
// sequences and trailing white space, cut at maxShownBytes.
func cleanLine(b []byte) string {
	b = bytes.TrimRight(b, "\r")
	if i := bytes.LastIndexByte(b, '\r'); i >= 0 {
		b = b[i+1:]
	}
	s := strings.TrimRight(ansiRe.ReplaceAllString(string(b), ""), " \t")
	if len(s) > maxShownBytes {
		s = strings.ToValidUTF8(s[:maxShownBytes], "") + "…"
	}
	return s
}

// looksLikePrompt reports whether an unfinished line reads like a question
// waiting for an answer; it is the fallback where /proc cannot say whether
// a process is reading the script's stdin.
func looksLikePrompt(s string) bool {
	s = strings.TrimRight(s, " \t")
	return s != "" && strings.ContainsAny(s[len(s)-1:], ":?)]>")
}
