package apt

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FlatSuite is the suite of a flat repository's sources line,
// "deb URL ./": the repository's files are in URL itself.
const FlatSuite = "./"

// SourceOption is one option of a sources line, "Name=Value" between the
// brackets: {"arch", "amd64,arm64"}, {"signed-by", "/usr/share/keyrings/x.gpg"}.
type SourceOption struct {
	Name, Value string
}

// SourcesLine returns the one-line-style sources.list(5) entry
//
//	deb [NAME=VALUE NAME=VALUE ...] URL SUITE COMPONENT COMPONENT ...
//
// exactly: the words joined by single spaces, the bracket only with at
// least one option, the options in the order given, no leading or
// trailing space and no newline. A suite that ends in "/" is an exact
// path, as FlatSuite is, and takes no component ("deb URL ./"); any other
// suite takes at least one. apt reads the line back as exactly these
// words.
//
// It refuses, with an error wrapping ErrSourcesLine that names the field
// and quotes its value:
//   - an empty URL, suite, component, option name or option value, or
//     one that is not valid UTF-8;
//   - any of them holding whitespace (Unicode's, so also a newline, a tab
//     or U+2028) or another control character, which would split the
//     line into other words or another line;
//   - any of them holding '#' (apt drops the rest of the line), '"', '['
//     or ']' (apt's quoting), or an option name holding '=';
//   - an option name of anything but ASCII letters, digits and '-';
//   - components with an exact-path suite, or none without one.
//
// So no value can add a word, an option or a line to what the caller
// meant. It does not check that the URL is a URL, nor that the names
// are options apt knows. It costs one pass over its input.
func SourcesLine(url, suite string, components []string, options ...SourceOption) (string, error) {
	var b strings.Builder
	b.WriteString("deb")
	for i, o := range options {
		if err := checkOptionName(o.Name); err != nil {
			return "", err
		}
		if err := checkWord("option "+o.Name+"'s value", o.Value); err != nil {
			return "", err
		}
		if i == 0 {
			b.WriteString(" [")
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(o.Name)
		b.WriteByte('=')
		b.WriteString(o.Value)
	}
	if len(options) > 0 {
		b.WriteByte(']')
	}
	if err := checkWord("URL", url); err != nil {
		return "", err
	}
	if err := checkWord("suite", suite); err != nil {
		return "", err
	}
	b.WriteByte(' ')
	b.WriteString(url)
	b.WriteByte(' ')
	b.WriteString(suite)
	exact := strings.HasSuffix(suite, "/")
	switch {
	case exact && len(components) > 0:
		return "", fmt.Errorf("%w: suite %q is an exact path (it ends in /), which takes no components; got %q", ErrSourcesLine, suite, components)
	case !exact && len(components) == 0:
		return "", fmt.Errorf("%w: suite %q needs at least one component (or is a flat repository's %q)", ErrSourcesLine, suite, FlatSuite)
	}
	for _, c := range components {
		if err := checkWord("component", c); err != nil {
			return "", err
		}
		b.WriteByte(' ')
		b.WriteString(c)
	}
	return b.String(), nil
}

// checkWord checks one word of a sources line (see SourcesLine).
func checkWord(what, w string) error {
	if w == "" {
		return fmt.Errorf("%w: the %s is empty", ErrSourcesLine, what)
	}
	if !utf8.ValidString(w) {
		return fmt.Errorf("%w: the %s %q is not valid UTF-8", ErrSourcesLine, what, w)
	}
	for _, r := range w {
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r):
			return fmt.Errorf("%w: the %s %q holds whitespace or a control character, which would split the line", ErrSourcesLine, what, w)
		case r == '#' || r == '"' || r == '[' || r == ']':
			return fmt.Errorf("%w: the %s %q holds %q, which apt reads as a comment or quoting", ErrSourcesLine, what, w, r)
		}
	}
	return nil
}

// checkOptionName checks an option's name: ASCII letters, digits and '-'.
func checkOptionName(n string) error {
	if n == "" {
		return fmt.Errorf("%w: an option has no name", ErrSourcesLine)
	}
	for _, r := range n {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-') {
			return fmt.Errorf("%w: option name %q holds %q; names are ASCII letters, digits and '-'", ErrSourcesLine, n, r)
		}
	}
	return nil
}
