package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// restClient speaks the part of OpenPAI v1.8.0's rest-server API that
// grants storage to groups. It never logs or returns the password or the
// token.
type restClient struct {
	base     string // e.g. http://10.0.0.1/rest-server
	http     *http.Client
	log      *slog.Logger
	user     string
	password string
	token    string
}

// apiError is the body of the rest-server's error answers.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// redact removes the password and the token from text that came from the
// server.
func (c *restClient) redact(s string) string {
	for _, secret := range []string{c.password, c.token} {
		if len(secret) < 4 {
			continue
		}
		// As sent, and as it reads inside JSON a server echoes.
		s = strings.ReplaceAll(s, jsonInner(secret), "[redacted]")
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	return s
}

// jsonInner returns s as it reads inside a JSON string.
func jsonInner(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	q := strings.TrimSpace(b.String())
	return q[1 : len(q)-1]
}

// do sends a JSON request and decodes a JSON answer into out when the
// status is want; other statuses are a *RestError.
func (c *restClient) do(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("rest-server address %s: %w", c.base, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL holds nothing secret, but is said below once
		}
		return fmt.Errorf("%s %s%s: %s", method, c.base, path, c.redact(err.Error()))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	c.log.Debug("rest-server", "method", method, "path", path, "status", resp.StatusCode, "took", time.Since(start).Round(time.Millisecond))
	if err != nil {
		return fmt.Errorf("%s %s%s: reading the answer: %w", method, c.base, path, err)
	}
	if resp.StatusCode != want {
		re := &RestError{Method: method, Path: path, Status: resp.StatusCode}
		var ae apiError
		if json.Unmarshal(data, &ae) == nil && (ae.Code != "" || ae.Message != "") {
			re.Code, re.Message = ae.Code, c.redact(ae.Message)
		} else {
			msg := strings.TrimSpace(string(data))
			if len(msg) > 200 {
				msg = msg[:200] + "..."
			}
			re.Message = c.redact(msg)
		}
		switch {
		case resp.StatusCode == http.StatusUnauthorized:
			re.Kind = ErrUnauthorized
		case resp.StatusCode == http.StatusForbidden:
			re.Kind = ErrNotAdmin
		case re.Code == "NoGroupError":
			re.Kind = ErrNoGroup
		}
		return re
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s%s: the answer is not what OpenPAI's rest-server sends: %w", method, c.base, path, err)
		}
	}
	return nil
}

// login logs in with the basic (username and password) method and keeps
// the token; a user who is not an admin is ErrNotAdmin.
func (c *restClient) login(ctx context.Context) error {
	var ans struct {
		User  string `json:"user"`
		Token string `json:"token"`
		Admin bool   `json:"admin"`
	}
	body := struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}{c.user, c.password}
	err := c.do(ctx, http.MethodPost, "/api/v2/authn/basic/login", body, http.StatusOK, &ans)
	var re *RestError
	if errors.As(err, &re) && re.Kind == nil {
		switch {
		case re.Code == "NoUserError" || re.Code == "IncorrectPasswordError" || re.Code == "InvalidParametersError":
			re.Kind = ErrLogin
		case re.Status == http.StatusNotFound:
			re.Kind = ErrLogin
			re.Message += " (no basic login here: is this the rest-server, and does the cluster use username and password logins rather than AAD/OIDC?)"
		}
	}
	if err != nil {
		return err
	}
	if ans.Token == "" {
		return fmt.Errorf("logging in as %s: the rest-server sent no token", c.user)
	}
	c.token = ans.Token
	if !ans.Admin {
		return fmt.Errorf("%w: user %s", ErrNotAdmin, c.user)
	}
	return nil
}

// group is the part of a group Setup reads.
type group struct {
	Groupname string `json:"groupname"`
	Extension struct {
		Acls map[string]json.RawMessage `json:"acls"`
	} `json:"extension"`
}

// storageConfigs returns the names of the storage the group may use.
func (g *group) storageConfigs() ([]string, error) {
	raw, ok := g.Extension.Acls["storageConfigs"]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil {
		return nil, fmt.Errorf("group %s: extension.acls.storageConfigs is not a list of names: %w", g.Groupname, err)
	}
	return names, nil
}

func (c *restClient) getGroup(ctx context.Context, name string) (*group, error) {
	var g group
	if err := c.do(ctx, http.MethodGet, "/api/v2/groups/"+url.PathEscape(name), nil, http.StatusOK, &g); err != nil {
		return nil, err
	}
	if g.Groupname == "" {
		g.Groupname = name
	}
	return &g, nil
}

// grant makes storage one of the group's storageConfigs and reports
// whether it had to write. With patch the rest-server replaces each key of
// extension whole, so the complete acls go back: every key the group
// had, storageConfigs with the storage appended.
func (c *restClient) grant(ctx context.Context, name, storage string) (bool, error) {
	g, err := c.getGroup(ctx, name)
	if err != nil {
		return false, err
	}
	have, err := g.storageConfigs()
	if err != nil {
		return false, err
	}
	if slices.Contains(have, storage) {
		return false, nil
	}
	acls := map[string]json.RawMessage{}
	for k, v := range g.Extension.Acls {
		acls[k] = v
	}
	list, err := json.Marshal(append(have, storage))
	if err != nil {
		return false, err
	}
	acls["storageConfigs"] = list
	type extension struct {
		Acls map[string]json.RawMessage `json:"acls"`
	}
	type data struct {
		Groupname string    `json:"groupname"`
		Extension extension `json:"extension"`
	}
	body := struct {
		Data  data `json:"data"`
		Patch bool `json:"patch"`
	}{data{name, extension{acls}}, true}
	if err := c.do(ctx, http.MethodPut, "/api/v2/groups", body, http.StatusCreated, nil); err != nil {
		return false, err
	}
	// Read it back: the write is only done when the group says so.
	g, err = c.getGroup(ctx, name)
	if err != nil {
		return true, err
	}
	if have, err = g.storageConfigs(); err != nil {
		return true, err
	}
	if !slices.Contains(have, storage) {
		return true, fmt.Errorf("group %s: storageConfigs %v still lacks %s after the update", name, have, storage)
	}
	return true, nil
}
