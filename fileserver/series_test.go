package fileserver

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Exported for the external tests.
var (
	CanonicalSeries = canonicalSeries
	Samples         = samples
)

// canonicalSeries returns a series, `name{label="value",...}`, with its
// labels sorted by name: Prometheus gives label order no meaning, so tests
// name labels in any order and compare through this. Values may hold
// escaped quotes and backslashes; a series it cannot parse is returned as
// it is.
func canonicalSeries(s string) string {
	name, rest, ok := strings.Cut(s, "{")
	if !ok || !strings.HasSuffix(rest, "}") {
		return s
	}
	rest = strings.TrimSuffix(rest, "}")
	var pairs []string
	for rest != "" {
		label, after, ok := strings.Cut(rest, `="`)
		if !ok {
			return s
		}
		i := 0
		for i < len(after) && after[i] != '"' {
			if after[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(after) {
			return s
		}
		pairs = append(pairs, label+`="`+after[:i]+`"`)
		rest = strings.TrimPrefix(after[i+1:], ",")
	}
	slices.Sort(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// samples parses the Prometheus text format into each sample's value by
// its canonical series.
func samples(text []byte) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("metrics line %q: no value", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		out[canonicalSeries(line[:i])] = v
	}
	return out, sc.Err()
}
