package nodes

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// The docker client configuration files Prepare writes a private lab
// registry's credentials to, on every machine.
const (
	// RootDockerConfigPath is root's docker CLI configuration: `docker
	// pull` run as root (kubespray's and pai's image pulls, the dev box's)
	// reads its "auths" there.
	RootDockerConfigPath = "/root/.docker/config.json"
	// KubeletDockerConfigPath is the first place kubelet (1.15, with
	// docker as its runtime) looks for registry credentials to pass to
	// docker on a pull: config.json in its --root-dir (default
	// /var/lib/kubelet), before its working directory, $HOME/.docker and
	// /.docker; the first file found is the only one read, re-read every
	// five minutes. dockerd itself never reads a config.json.
	KubeletDockerConfigPath = "/var/lib/kubelet/config.json"
)

// keyAuths is the key of a docker config.json that MergeDockerAuth edits.
const keyAuths = "auths"

// MergeDockerAuth sets the credentials for the registry at host ("HOST" or
// "HOST:PORT") in a docker client config.json (RootDockerConfigPath,
// KubeletDockerConfigPath).
//
// old is the file's current content; nil, empty or whitespace-only content
// counts as "{}". The result:
//   - "auths" holds host with {"auth": base64("USERNAME:PASSWORD")}, the
//     form both the docker CLI and kubelet 1.15 read;
//   - entries for the same registry in another spelling (a scheme, a
//     trailing slash, letter case) are removed, so exactly one applies;
//     an entry with a path ("HOST/project") is another scope and kept;
//   - an entry for host with other credentials, or an identity or
//     registry token (which docker would use instead), is replaced whole;
//   - every other key and every other entry is kept, in its order.
//
// A "credsStore" or a "credHelpers" entry for host, if the file has one,
// takes precedence over "auths" for the docker CLI (not for kubelet); it is
// left alone.
//
// changed reports whether anything had to change; when it is false,
// merged is old unchanged, so the caller can skip the write. When it is
// true, merged is indented JSON ending in a newline. merged holds the
// password (base64 is no protection): write it with mode 0600 and never
// log it.
//
// Content that is not a JSON object, repeats a key, or has an "auths"
// that is not an object yields a *DockerConfigError, which never quotes
// the content. A host that is not HOST[:PORT], or a username or password
// that is empty, holds a control character, or (the username) a colon,
// yields an error wrapping ErrRegistry that never shows the password.
func MergeDockerAuth(old []byte, host, username, password string) (merged []byte, changed bool, err error) {
	if err := checkRegistryHost(host); err != nil {
		return nil, false, err
	}
	if username == "" || password == "" {
		return nil, false, fmt.Errorf("%w: credentials for %s need a username and a password", ErrRegistry, host)
	}
	if err := checkCredentials(username, password); err != nil {
		return nil, false, err
	}
	c, off, err := parseObject(old)
	if err != nil {
		line, col := lineCol(old, off)
		return nil, false, &DockerConfigError{Line: line, Column: col, Err: err}
	}
	auths := &jsonObject{values: map[string]json.RawMessage{}}
	if raw, ok := c.values[keyAuths]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
			return nil, false, &DockerConfigError{Err: fmt.Errorf("%q must be an object of registries", keyAuths)}
		}
		if auths, _, err = parseObject(raw); err != nil {
			return nil, false, &DockerConfigError{Err: fmt.Errorf("%q: %w", keyAuths, err)}
		}
	}

	entry, _ := json.Marshal(map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(username + ":" + password))})
	var same []string
	for _, k := range auths.keys {
		if sameAuthKey(k, host) {
			same = append(same, k)
		}
	}
	if len(same) == 1 && same[0] == host && entryHolds(auths.values[host], username, password) {
		return old, false, nil
	}
	out := &jsonObject{values: map[string]json.RawMessage{}}
	for _, k := range auths.keys {
		switch {
		case !sameAuthKey(k, host):
			out.setRaw(k, auths.values[k])
		case out.values[host] == nil: // ours, where the first spelling was
			out.setRaw(host, entry)
		}
	}
	out.setRaw(host, entry) // appended when there was none
	var compact bytes.Buffer
	if err := json.Compact(&compact, out.marshal()); err != nil {
		return nil, false, &DockerConfigError{Err: err} // cannot happen: built from valid JSON
	}
	c.setRaw(keyAuths, compact.Bytes())
	return c.marshal(), true, nil
}

// sameAuthKey reports whether an "auths" key names the registry at host:
// docker and kubelet ignore a scheme, a trailing slash and letter case.
func sameAuthKey(key, host string) bool {
	k := strings.ToLower(strings.TrimSpace(key))
	k = strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
	return strings.TrimRight(k, "/") == strings.ToLower(host)
}

// entryHolds reports whether an "auths" entry gives exactly these
// credentials and no token that docker would use instead.
func entryHolds(raw json.RawMessage, username, password string) bool {
	var e struct {
		Auth          string `json:"auth"`
		Username      string `json:"username"`
		Password      string `json:"password"`
		IdentityToken string `json:"identitytoken"`
		RegistryToken string `json:"registrytoken"`
	}
	if err := json.Unmarshal(raw, &e); err != nil || e.IdentityToken != "" || e.RegistryToken != "" {
		return false
	}
	if e.Auth != "" {
		dec, err := base64.StdEncoding.DecodeString(e.Auth)
		if err != nil {
			return false
		}
		u, p, ok := strings.Cut(string(dec), ":")
		return ok && u == username && p == password
	}
	return e.Username == username && e.Password == password
}

// checkCredentials accepts a registry account: both parts or neither, no
// colon in the username (basic auth cannot carry one), no control
// character in either. Its errors never show the password.
func checkCredentials(username, password string) error {
	switch {
	case (username == "") != (password == ""):
		return fmt.Errorf("%w: give both a username and a password for the registry, or neither", ErrRegistry)
	case strings.Contains(username, ":"):
		return fmt.Errorf("%w: the registry username %q holds a colon, which basic auth cannot carry", ErrRegistry, username)
	case strings.ContainsFunc(username, unicode.IsControl):
		return fmt.Errorf("%w: the registry username %q holds a control character", ErrRegistry, username)
	case strings.ContainsFunc(password, unicode.IsControl):
		return fmt.Errorf("%w: the registry password holds a control character (a newline?)", ErrRegistry)
	}
	return nil
}
