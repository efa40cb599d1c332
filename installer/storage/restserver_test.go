package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// fakeRest is a stand-in for OpenPAI v1.8.0's rest-server, behind pylon's
// /rest-server prefix: the endpoints storage setup uses, with the
// middleware order and error answers of pai's routes/v2/group.js,
// middlewares/token.js, middlewares/parameter.js and controllers/v2:
//
//   - POST /api/v2/authn/basic/login: body parsed as JSON only with
//     content-type application/json (else it is empty and fails validation,
//     400 InvalidParametersError); unknown user 400 NoUserError, wrong
//     password 400 IncorrectPasswordError; 200 {user, token, admin,
//     hasGitHubPAT}.
//   - GET /api/v2/groups/:name: token check (401 UnauthorizedUserError);
//     unknown group 400 NoGroupError; 200 the group.
//   - PUT /api/v2/groups: token check (401); body validation (400
//     InvalidParametersError, which a body without content-type fails);
//     admin check (403 ForbiddenUserError); unknown group 400 NoGroupError;
//     with patch each key of data.extension replaces the group's; 201.
type fakeRest struct {
	t      *testing.T
	mu     sync.Mutex
	users  map[string]fakeUser
	tokens map[string]string // token -> user
	groups map[string]map[string]any
	reqs   []fakeReq
	// oidc answers the basic login with 404, as a cluster with AAD login.
	oidc bool
}

type fakeUser struct {
	password string
	admin    bool
}

// fakeReq is a request as the fake received it.
type fakeReq struct {
	Method, Path, ContentType, Authorization string
	Body                                     string
}

const restPrefix = "/rest-server"

func newFakeRest(t *testing.T) (*fakeRest, *httptest.Server) {
	f := &fakeRest{
		t:      t,
		users:  map[string]fakeUser{},
		tokens: map[string]string{},
		groups: map[string]map[string]any{},
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// group adds a group whose extension.acls is acls (JSON).
func (f *fakeRest) group(name, acls string) {
	var a any
	if err := json.Unmarshal([]byte(acls), &a); err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[name] = map[string]any{
		"groupname": name, "description": "group " + name, "externalName": "",
		"extension": map[string]any{"acls": a},
	}
}

// acls returns a group's acls as JSON.
func (f *fakeRest) acls(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := json.Marshal(f.groups[name]["extension"].(map[string]any)["acls"])
	return string(b)
}

// requests returns the requests received so far, and forgets them.
func (f *fakeRest) requests() []fakeReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.reqs
	f.reqs = nil
	return r
}

// login gives a token for user, as the login would.
func (f *fakeRest) login(user string) string {
	b := make([]byte, 16)
	rand.Read(b)
	tok := "eyJ" + hex.EncodeToString(b)
	f.mu.Lock()
	f.tokens[tok] = user
	f.mu.Unlock()
	return tok
}

func (f *fakeRest) fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}

func (f *fakeRest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, fakeReq{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), string(body)})
	f.mu.Unlock()

	// body-parser's json parser reads only application/json bodies.
	var parsed map[string]any
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") && len(body) > 0 {
		if err := json.Unmarshal(body, &parsed); err != nil {
			f.fail(w, 400, "UnknownError", "Unexpected token in JSON")
			return
		}
	}
	path, ok := strings.CutPrefix(r.URL.Path, restPrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	user := func() (string, bool) {
		auth := r.Header.Get("Authorization")
		if auth == "" {
			f.fail(w, 401, "UnauthorizedUserError", "Guest is not allowed to do this operation.")
			return "", false
		}
		scheme, tok, _ := strings.Cut(auth, " ")
		f.mu.Lock()
		u, ok := f.tokens[tok]
		f.mu.Unlock()
		if !strings.EqualFold(scheme, "Bearer") || !ok {
			f.fail(w, 401, "UnauthorizedUserError", "Your token is invalid.")
			return "", false
		}
		return u, true
	}
	switch {
	case r.Method == http.MethodPost && path == "/api/v2/authn/basic/login" && !f.oidc:
		name, _ := parsed["username"].(string)
		pw, _ := parsed["password"].(string)
		switch {
		case name == "":
			f.fail(w, 400, "InvalidParametersError", `"username" is required`)
			return
		case len(pw) < 6:
			f.fail(w, 400, "InvalidParametersError", `"password" length must be at least 6 characters long`)
			return
		}
		u, ok := f.users[name]
		switch {
		case !ok:
			f.fail(w, 400, "NoUserError", "User "+name+" is not found.")
			return
		case u.password != pw:
			f.fail(w, 400, "IncorrectPasswordError", "Password is incorrect.")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"user": name, "token": f.login(name), "admin": u.admin, "hasGitHubPAT": false})
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/api/v2/groups/"):
		if _, ok := user(); !ok {
			return
		}
		name := strings.TrimSuffix(strings.TrimPrefix(path, "/api/v2/groups/"), "/")
		f.mu.Lock()
		g, ok := f.groups[name]
		var b []byte
		if ok {
			b, _ = json.Marshal(g)
		}
		f.mu.Unlock()
		if !ok {
			f.fail(w, 400, "NoGroupError", "Group "+name+" is not found.")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	case r.Method == http.MethodPut && path == "/api/v2/groups":
		u, ok := user()
		if !ok {
			return
		}
		data, _ := parsed["data"].(map[string]any)
		name, _ := data["groupname"].(string)
		if data == nil || !regexp.MustCompile(`^[A-Za-z0-9_]+$`).MatchString(name) {
			// pai's Joi schema accepts an empty body, and the controller
			// then fails on req.body.data; either way the write fails.
			f.fail(w, 400, "InvalidParametersError", `"data.groupname" is required`)
			return
		}
		if !f.users[u].admin {
			f.fail(w, 403, "ForbiddenUserError", "Non-admin is not allow to do this operation.")
			return
		}
		f.mu.Lock()
		g, ok := f.groups[name]
		if ok {
			if patch, _ := parsed["patch"].(bool); !patch {
				f.mu.Unlock()
				f.t.Errorf("PUT without patch: true would replace the whole group")
				f.fail(w, 400, "InvalidParametersError", `"data.description" is required`)
				return
			}
			if ext, ok := data["extension"].(map[string]any); ok {
				for k, v := range ext {
					g["extension"].(map[string]any)[k] = v
				}
			}
		}
		f.mu.Unlock()
		if !ok {
			f.fail(w, 400, "NoGroupError", "Group "+name+" is not found.")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"message": "update group " + name + " successfully."})
	default:
		f.fail(w, 404, "NoApiError", "API "+r.URL.Path+" is not found.")
	}
}

// TestFakeRestLikePai checks the stand-in against what pai's rest-server
// does with a request that lacks content-type (the guide: "必须加上 -H
// content-type: application/json，否则解析错误"), so the client tests below
// mean something.
func TestFakeRestLikePai(t *testing.T) {
	f, srv := newFakeRest(t)
	f.users["admin"] = fakeUser{"admin-password", true}
	f.group("default", `{"storageConfigs":[],"admin":false,"virtualClusters":["default"]}`)
	tok := f.login("admin")
	body := `{"data":{"groupname":"default","extension":{"acls":{"storageConfigs":["x"]}}},"patch":true}`
	req, _ := http.NewRequest(http.MethodPut, srv.URL+restPrefix+"/api/v2/groups", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("PUT without content-type: %d, want 400", resp.StatusCode)
	}
	if got := f.acls("default"); got != `{"admin":false,"storageConfigs":[],"virtualClusters":["default"]}` {
		t.Errorf("the group changed: %s", got)
	}
}

// TestGrant proves the rest-server conversation of the grant step: the
// exact login body, the bearer token on every later request, the exact
// PUT body (the complete acls with the storage appended, patch true,
// content-type application/json), nothing written when the group has the
// storage, and a clear error for each refusal. Neither the password nor
// the token appears in an error or a log record.
func TestGrant(t *testing.T) {
	const password = `s3cret "pw" \ {}`
	setup := func(t *testing.T) (*fakeRest, *restClient, *bytes.Buffer) {
		f, srv := newFakeRest(t)
		f.users["admin"] = fakeUser{password, true}
		f.users["alice"] = fakeUser{"alice-password", false}
		var logs bytes.Buffer
		c := &restClient{base: srv.URL + restPrefix, http: srv.Client(),
			log:  slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			user: "admin", password: password}
		return f, c, &logs
	}
	noSecrets := func(t *testing.T, c *restClient, texts ...string) {
		t.Helper()
		for _, s := range texts {
			if strings.Contains(s, password) || (c.token != "" && strings.Contains(s, c.token)) {
				t.Errorf("a secret shows in %q", s)
			}
		}
	}
	ctx := context.Background()

	t.Run("grant and grant again", func(t *testing.T) {
		f, c, logs := setup(t)
		f.group("default", `{"storageConfigs":[],"admin":false,"virtualClusters":["default"]}`)
		f.group("vc1", `{"storageConfigs":["other"],"admin":false,"virtualClusters":["vc1","default"],"custom":{"k":[1,2]}}`)
		if err := c.login(ctx); err != nil {
			t.Fatal(err)
		}
		for _, g := range []string{"default", "vc1"} {
			if wrote, err := c.grant(ctx, g, "nfs-storage"); err != nil || !wrote {
				t.Fatalf("grant %s: wrote %v, %v", g, wrote, err)
			}
		}
		reqs := f.requests()
		bearer := "Bearer " + c.token
		want := []fakeReq{
			{"POST", "/rest-server/api/v2/authn/basic/login", "application/json", "",
				`{"username":"admin","password":"s3cret \"pw\" \\ {}"}`},
			{"GET", "/rest-server/api/v2/groups/default", "", bearer, ""},
			{"PUT", "/rest-server/api/v2/groups", "application/json", bearer,
				`{"data":{"groupname":"default","extension":{"acls":{"admin":false,"storageConfigs":["nfs-storage"],"virtualClusters":["default"]}}},"patch":true}`},
			{"GET", "/rest-server/api/v2/groups/default", "", bearer, ""},
			{"GET", "/rest-server/api/v2/groups/vc1", "", bearer, ""},
			{"PUT", "/rest-server/api/v2/groups", "application/json", bearer,
				`{"data":{"groupname":"vc1","extension":{"acls":{"admin":false,"custom":{"k":[1,2]},"storageConfigs":["other","nfs-storage"],"virtualClusters":["vc1","default"]}}},"patch":true}`},
			{"GET", "/rest-server/api/v2/groups/vc1", "", bearer, ""},
		}
		if len(reqs) != len(want) {
			t.Fatalf("%d requests, want %d: %+v", len(reqs), len(want), reqs)
		}
		for i := range want {
			if reqs[i] != want[i] {
				t.Errorf("request %d:\n got %+v\nwant %+v", i, reqs[i], want[i])
			}
		}
		if got := f.acls("vc1"); got != `{"admin":false,"custom":{"k":[1,2]},"storageConfigs":["other","nfs-storage"],"virtualClusters":["vc1","default"]}` {
			t.Errorf("vc1's acls now %s", got)
		}

		// Present already: read, nothing written.
		if wrote, err := c.grant(ctx, "default", "nfs-storage"); err != nil || wrote {
			t.Fatalf("second grant: wrote %v, %v", wrote, err)
		}
		if reqs := f.requests(); len(reqs) != 1 || reqs[0].Method != "GET" {
			t.Errorf("second grant sent %+v, want one GET", reqs)
		}
		noSecrets(t, c, logs.String())
	})

	t.Run("not an admin at login", func(t *testing.T) {
		f, c, logs := setup(t)
		f.group("default", `{"storageConfigs":[],"admin":false,"virtualClusters":["default"]}`)
		c.user, c.password = "alice", "alice-password"
		err := c.login(ctx)
		if !errors.Is(err, ErrNotAdmin) || err.Error() != "not an OpenPAI admin: user alice" {
			t.Fatalf("login: %v", err)
		}
		if reqs := f.requests(); len(reqs) != 1 {
			t.Errorf("%d requests after a non-admin login, want only the login", len(reqs))
		}
		noSecrets(t, c, err.Error(), logs.String())
	})

	t.Run("non-admin token writes", func(t *testing.T) {
		f, c, logs := setup(t)
		f.group("default", `{"storageConfigs":[],"admin":false,"virtualClusters":["default"]}`)
		c.token = f.login("alice")
		_, err := c.grant(ctx, "default", "nfs-storage")
		var re *RestError
		if !errors.Is(err, ErrNotAdmin) || !errors.As(err, &re) || re.Status != 403 || re.Code != "ForbiddenUserError" {
			t.Fatalf("grant: %v", err)
		}
		if want := "rest-server answered PUT /api/v2/groups with 403 ForbiddenUserError: Non-admin is not allow to do this operation."; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
		noSecrets(t, c, err.Error(), logs.String())
	})

	t.Run("unknown group", func(t *testing.T) {
		f, c, _ := setup(t)
		f.group("default", `{"storageConfigs":[],"admin":false,"virtualClusters":["default"]}`)
		if err := c.login(ctx); err != nil {
			t.Fatal(err)
		}
		_, err := c.grant(ctx, "vc9", "nfs-storage")
		if !errors.Is(err, ErrNoGroup) || !strings.Contains(err.Error(), "Group vc9 is not found.") {
			t.Fatalf("grant: %v", err)
		}
		if reqs := f.requests(); reqs[len(reqs)-1].Method != "GET" {
			t.Error("a write followed the unknown group")
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		_, c, logs := setup(t)
		c.password = "not-the-password"
		err := c.login(ctx)
		if !errors.Is(err, ErrLogin) || !strings.Contains(err.Error(), "IncorrectPasswordError") {
			t.Fatalf("login: %v", err)
		}
		noSecrets(t, c, err.Error(), logs.String())
		if strings.Contains(err.Error(), "not-the-password") {
			t.Error("the password shows in the error")
		}
	})

	t.Run("no basic login", func(t *testing.T) {
		f, c, _ := setup(t)
		f.oidc = true
		err := c.login(ctx)
		if !errors.Is(err, ErrLogin) || !strings.Contains(err.Error(), "404 NoApiError") || !strings.Contains(err.Error(), "AAD/OIDC") {
			t.Fatalf("login: %v", err)
		}
	})

	t.Run("token refused", func(t *testing.T) {
		f, c, _ := setup(t)
		f.group("default", `{"storageConfigs":[],"admin":false,"virtualClusters":["default"]}`)
		c.token = "eyJforged"
		_, err := c.grant(ctx, "default", "nfs-storage")
		if !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), "eyJforged") {
			t.Fatalf("grant: %v", err)
		}
	})

	t.Run("server echoes a secret", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.WriteHeader(500)
			json.NewEncoder(w).Encode(map[string]string{"code": "UnknownError", "message": "bad body " + string(b)})
		}))
		defer srv.Close()
		c := &restClient{base: srv.URL, http: srv.Client(), log: slog.New(slog.DiscardHandler), user: "admin", password: password}
		err := c.login(ctx)
		if err == nil || strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), "[redacted]") {
			t.Fatalf("login: %v", err)
		}
	})
}
