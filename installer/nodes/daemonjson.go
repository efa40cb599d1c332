package nodes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// DaemonJSONPath is where docker reads its daemon configuration on every
// node.
const DaemonJSONPath = "/etc/docker/daemon.json"

// The keys of daemon.json that MergeDaemonJSON edits. Every other key is
// kept as it was, byte for byte up to indentation.
const (
	keyRegistryMirrors    = "registry-mirrors"
	keyInsecureRegistries = "insecure-registries"
)

// jsonObject is a JSON object with its keys in file order, each value as
// the raw JSON it was written with: a daemon.json, or a docker config.json
// and its "auths".
type jsonObject struct {
	keys   []string
	values map[string]json.RawMessage
}

// daemonConfig is a daemon.json.
type daemonConfig = jsonObject

// parseObject reads one JSON object with no repeated keys. Missing, empty
// or all-whitespace input is an empty object. On error it also returns
// the byte offset of the problem.
func parseObject(data []byte) (*jsonObject, int64, error) {
	c := &jsonObject{values: map[string]json.RawMessage{}}
	if len(bytes.TrimSpace(data)) == 0 {
		return c, 0, nil
	}
	// Unmarshal first: its syntax errors carry absolute offsets, the
	// Decoder's do not.
	var whole any
	if err := json.Unmarshal(data, &whole); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, se.Offset, err
		}
		return nil, 0, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, dec.InputOffset(), err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, dec.InputOffset(), errors.New("the top level is not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, dec.InputOffset(), err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, dec.InputOffset(), errors.New("object key is not a string")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, dec.InputOffset(), err
		}
		if _, dup := c.values[key]; dup {
			return nil, dec.InputOffset(), fmt.Errorf("key %q appears twice", key)
		}
		c.keys = append(c.keys, key)
		c.values[key] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, dec.InputOffset(), err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, dec.InputOffset(), errors.New("data after the top-level object")
	}
	return c, 0, nil
}

// parseDaemonJSON reads a daemon.json. Missing, empty or all-whitespace input
// is an empty object (docker accepts a missing file; pai v1.8.0's docker
// cache step does not, which is why prepare writes "{}" then). Anything else
// must be one JSON object with no repeated keys, and the two keys paimirror
// edits, when present, must be arrays of strings.
func parseDaemonJSON(data []byte) (*daemonConfig, error) {
	c, off, err := parseObject(data)
	if err != nil {
		line, col := lineCol(data, off)
		return nil, &DaemonJSONError{Path: DaemonJSONPath, Line: line, Column: col, Err: err}
	}
	for _, k := range []string{keyRegistryMirrors, keyInsecureRegistries} {
		if _, err := c.strings(k); err != nil {
			return nil, &DaemonJSONError{Path: DaemonJSONPath, Err: err}
		}
	}
	return c, nil
}

// strings returns the value of key as a list of strings; a missing key is an
// empty list.
func (c *jsonObject) strings(key string) ([]string, error) {
	raw, ok := c.values[key]
	if !ok {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("%q must be a list of strings, not %s", key, raw)
	}
	return list, nil
}

// set replaces (or appends) key with a list of strings.
func (c *jsonObject) set(key string, list []string) {
	raw, _ := json.Marshal(list) // a []string always marshals
	if _, ok := c.values[key]; !ok {
		c.keys = append(c.keys, key)
	}
	c.values[key] = raw
}

// marshal writes the object with two-space indentation, keys in their
// original order, and a final newline.
func (c *jsonObject) marshal() []byte {
	var b bytes.Buffer
	if len(c.keys) == 0 {
		return []byte("{}\n")
	}
	b.WriteString("{\n")
	for i, k := range c.keys {
		name, _ := json.Marshal(k)
		b.WriteString("  ")
		b.Write(name)
		b.WriteString(": ")
		var v bytes.Buffer
		if err := json.Indent(&v, c.values[k], "  ", "  "); err != nil {
			b.Write(c.values[k]) // cannot happen: the decoder validated it
		} else {
			b.Write(v.Bytes())
		}
		if i < len(c.keys)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// MergeDaemonJSON adds the mirror at HOST:PORT to a docker daemon.json.
//
// old is the file's current content; nil, empty or whitespace-only content
// (a missing or blank file) counts as "{}". The result:
//   - "registry-mirrors" holds "http://HOST:PORT", or "https://HOST:PORT"
//     when tls is true;
//   - "insecure-registries" holds "HOST:PORT" when tls is false (docker
//     speaks plain HTTP only to registries listed there). With tls true it is
//     left alone: the mirror's CA goes to /etc/docker/certs.d/HOST:PORT/ca.crt
//     instead (Prepare does that);
//   - every other key and value is kept, in its original order (above all
//     "default-runtime" and "runtimes" for the nvidia runtime);
//   - an entry already present in an equivalent spelling (trailing slash,
//     letter case, "http://" in insecure-registries) is not added again, and
//     repeated entries for the mirror are collapsed into one.
//
// changed reports whether anything had to be added or removed; when it is
// false, merged is old unchanged, so the caller can skip the write and the
// docker restart. When it is true, merged is indented JSON ending in a
// newline.
//
// Content that is not a JSON object, repeats a key, or has a non-list
// "registry-mirrors" or "insecure-registries" yields a *DaemonJSONError
// with the position of the problem; docker itself would refuse to start with
// such a file, so it must be fixed by hand.
func MergeDaemonJSON(old []byte, mirror string, tls bool) (merged []byte, changed bool, err error) {
	if err := checkMirrorAddr(mirror); err != nil {
		return nil, false, err
	}
	c, err := parseDaemonJSON(old)
	if err != nil {
		return nil, false, err
	}
	changed = len(bytes.TrimSpace(old)) == 0

	scheme := "http"
	if tls {
		scheme = "https"
	}
	mirrorURL := scheme + "://" + mirror
	mirrors, _ := c.strings(keyRegistryMirrors) // validated by parseDaemonJSON
	if list, ok := ensureOnce(mirrors, mirrorURL, sameURL); ok {
		c.set(keyRegistryMirrors, list)
		changed = true
	}
	if !tls {
		insecure, _ := c.strings(keyInsecureRegistries)
		if list, ok := ensureOnce(insecure, mirror, sameRegistry); ok {
			c.set(keyInsecureRegistries, list)
			changed = true
		}
	}
	if !changed {
		return old, false, nil
	}
	return c.marshal(), true, nil
}

// normalDaemonJSON checks a daemon.json as MergeDaemonJSON does without
// adding anything: content docker would refuse is a *DaemonJSONError; a
// missing or blank file becomes "{}" (changed true: pai's tools need valid
// JSON there); anything else is returned unchanged.
func normalDaemonJSON(old []byte) (merged []byte, changed bool, err error) {
	c, err := parseDaemonJSON(old)
	if err != nil {
		return nil, false, err
	}
	if len(bytes.TrimSpace(old)) == 0 {
		return c.marshal(), true, nil
	}
	return old, false, nil
}

// AddInsecureRegistry adds a lab registry that speaks plain HTTP
// (Registry.Insecure) to a docker daemon.json: "insecure-registries"
// holds host ("HOST" or "HOST:PORT") exactly once afterwards, every other
// key and entry kept as MergeDaemonJSON keeps them. The registry is not
// added to "registry-mirrors": the install names its images with the
// registry's host, so docker goes there directly.
//
// The contract is MergeDaemonJSON's: nil or blank old counts as "{}";
// changed false means merged is old unchanged; otherwise merged is
// indented JSON ending in a newline; content docker would refuse is a
// *DaemonJSONError. A host that is not HOST[:PORT] is an error wrapping
// ErrRegistry.
func AddInsecureRegistry(old []byte, host string) (merged []byte, changed bool, err error) {
	if err := checkRegistryHost(host); err != nil {
		return nil, false, err
	}
	c, err := parseDaemonJSON(old)
	if err != nil {
		return nil, false, err
	}
	changed = len(bytes.TrimSpace(old)) == 0
	insecure, _ := c.strings(keyInsecureRegistries) // validated by parseDaemonJSON
	if list, ok := ensureOnce(insecure, host, sameRegistry); ok {
		c.set(keyInsecureRegistries, list)
		changed = true
	}
	if !changed {
		return old, false, nil
	}
	return c.marshal(), true, nil
}

// checkRegistryHost accepts HOST or HOST:PORT (a numeric port; an IPv6
// address in brackets) with no scheme, path or white space: the registry
// part of an image name.
func checkRegistryHost(host string) error {
	switch {
	case strings.Contains(host, "://"):
		return fmt.Errorf("%w %q: want HOST or HOST:PORT, without a scheme (plain HTTP is Insecure)", ErrRegistry, host)
	case strings.Contains(host, "/"):
		return fmt.Errorf("%w %q: want HOST or HOST:PORT; the path prefix belongs to the image names, not to the registry's host", ErrRegistry, host)
	case host == "" || strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune("@?#\\\"'", r) }):
		return fmt.Errorf("%w %q: want HOST or HOST:PORT", ErrRegistry, host)
	}
	name := host
	if h, port, err := net.SplitHostPort(host); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || h == "" {
			return fmt.Errorf("%w %q: want HOST or HOST:PORT, with a port from 1 to 65535", ErrRegistry, host)
		}
		name = h
		if strings.Contains(h, ":") { // IPv6: SplitHostPort took the brackets off
			return nil
		}
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		if net.ParseIP(host[1:len(host)-1]) == nil {
			return fmt.Errorf("%w %q: want HOST or HOST:PORT", ErrRegistry, host)
		}
		return nil
	}
	if strings.ContainsAny(name, ":[]") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.HasPrefix(name, "-") {
		return fmt.Errorf("%w %q: want HOST or HOST:PORT", ErrRegistry, host)
	}
	return nil
}

// ensureOnce returns list with exactly one entry equivalent to want (the
// first such entry kept where it was, want appended when there was none),
// and whether that differs from list.
func ensureOnce(list []string, want string, same func(a, b string) bool) ([]string, bool) {
	out := make([]string, 0, len(list)+1)
	found, changed := false, false
	for _, s := range list {
		if same(s, want) {
			if found {
				changed = true // a repeat: drop it
				continue
			}
			found = true
		}
		out = append(out, s)
	}
	if !found {
		out = append(out, want)
		changed = true
	}
	return out, changed
}

// sameURL compares two registry mirror URLs, ignoring letter case and a
// trailing slash.
func sameURL(a, b string) bool {
	norm := func(s string) string { return strings.TrimRight(strings.ToLower(strings.TrimSpace(s)), "/") }
	return norm(a) == norm(b)
}

// sameRegistry compares two insecure-registries entries; docker strips an
// "http://" prefix there, so "http://h:p" and "h:p" are the same entry.
func sameRegistry(a, b string) bool {
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		s = strings.TrimPrefix(s, "http://")
		return strings.TrimRight(s, "/")
	}
	return norm(a) == norm(b)
}

// checkMirrorAddr accepts HOST:PORT with a numeric port and no scheme or
// path.
func checkMirrorAddr(mirror string) error {
	host, port, err := net.SplitHostPort(mirror)
	if err != nil || host == "" || strings.ContainsAny(mirror, "/ ") {
		return fmt.Errorf("mirror address %q: %w", mirror, ErrMirrorAddr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("mirror address %q: %w", mirror, ErrMirrorAddr)
	}
	return nil
}

// lineCol turns a byte offset into a 1-based line and column.
func lineCol(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	if col < 1 {
		col = 1
	}
	return line, col
}
