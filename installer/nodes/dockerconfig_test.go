package nodes

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestMergeDockerAuth(t *testing.T) {
	const host = "harbor.lab:8443"
	const user, pass = "robot$pai", `p"a\ss:wörd`
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	ours := `{"auth":"` + auth + `"}`
	tests := []struct {
		name     string
		old      string
		want     string // expected JSON (compared as data)
		wantSame bool   // merged must be old byte for byte
		wantErr  string // substring of the *DockerConfigError
		wantKeys []string
	}{
		{name: "missing", old: "", want: `{"auths":{"harbor.lab:8443":` + ours + `}}`},
		{name: "whitespace", old: " \n", want: `{"auths":{"harbor.lab:8443":` + ours + `}}`},
		{name: "empty object", old: "{}", want: `{"auths":{"harbor.lab:8443":` + ours + `}}`},
		{name: "other entries and keys kept, in order",
			old: `{"HttpHeaders": {"User-Agent": "x"}, "auths": {"https://index.docker.io/v1/": {"auth": "b3RoZXI6c2VjcmV0"}}, "psFormat": "table"}`,
			want: `{"HttpHeaders":{"User-Agent":"x"},"auths":{"https://index.docker.io/v1/":{"auth":"b3RoZXI6c2VjcmV0"},"harbor.lab:8443":` + ours +
				`},"psFormat":"table"}`,
			wantKeys: []string{"HttpHeaders", "auths", "psFormat"}},
		{name: "already there: unchanged, byte for byte",
			old: "{\n\t\"auths\": {\"harbor.lab:8443\": {\"auth\": \"" + auth + "\"}}\n}", wantSame: true},
		{name: "already there as username and password",
			old:      `{"auths": {"harbor.lab:8443": {"username": "robot$pai", "password": "p\"a\\ss:wörd"}}}`,
			wantSame: true},
		{name: "another password: replaced",
			old:  `{"auths": {"harbor.lab:8443": {"auth": "` + base64.StdEncoding.EncodeToString([]byte(user+":old")) + `", "email": "x@y"}}}`,
			want: `{"auths":{"harbor.lab:8443":` + ours + `}}`},
		{name: "an identity token is dropped with the old entry",
			old:  `{"auths": {"harbor.lab:8443": {"auth": "` + auth + `", "identitytoken": "tok"}}}`,
			want: `{"auths":{"harbor.lab:8443":` + ours + `}}`},
		{name: "equivalent spellings collapse into ours",
			old:  `{"auths": {"https://HARBOR.lab:8443/": {"auth": "eDp5"}, "a.b": {"auth": "eDp5"}, "http://harbor.lab:8443": {"auth": "eDp5"}}}`,
			want: `{"auths":{"a.b":{"auth":"eDp5"},"harbor.lab:8443":` + ours + `}}`},
		{name: "an entry with a path is another registry scope, kept",
			old:  `{"auths": {"harbor.lab:8443/other": {"auth": "eDp5"}}}`,
			want: `{"auths":{"harbor.lab:8443/other":{"auth":"eDp5"},"harbor.lab:8443":` + ours + `}}`},
		{name: "null auths", old: `{"auths": null}`, want: `{"auths":{"harbor.lab:8443":` + ours + `}}`},
		{name: "invalid", old: `{"auths": {"x": }`, wantErr: "line 1, column 17"},
		{name: "not an object", old: `[]`, wantErr: "not a JSON object"},
		{name: "repeated key", old: `{"auths": {}, "auths": {}}`, wantErr: `"auths" appears twice`},
		{name: "auths not an object", old: `{"auths": ["secret-ish"]}`, wantErr: `"auths" must be an object`},
		{name: "an entry repeated", old: `{"auths": {"a": {}, "a": {}}}`, wantErr: `appears twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			merged, changed, err := MergeDockerAuth([]byte(tt.old), host, user, pass)
			if tt.wantErr != "" {
				var de *DockerConfigError
				if !errors.As(err, &de) {
					t.Fatalf("error %v (%T), want a *DockerConfigError", err, err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q does not mention %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret-ish") {
					t.Errorf("error %q quotes the file's content", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantSame {
				if changed || string(merged) != tt.old {
					t.Fatalf("changed=%v merged=%q, want the input unchanged", changed, merged)
				}
				return
			}
			if !changed {
				t.Error("changed = false")
			}
			if !json.Valid(merged) || !strings.HasSuffix(string(merged), "}\n") {
				t.Fatalf("merged is not JSON ending in a newline:\n%s", merged)
			}
			var got, want any
			if err := json.Unmarshal(merged, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("merged:\n%s\nwant %s", merged, tt.want)
			}
			if tt.wantKeys != nil {
				o, _, err := parseObject(merged)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(o.keys, tt.wantKeys) {
					t.Errorf("key order %v, want %v", o.keys, tt.wantKeys)
				}
			}
			again, changed, err := MergeDockerAuth(merged, host, user, pass)
			if err != nil || changed || string(again) != string(merged) {
				t.Errorf("second merge: changed=%v err=%v", changed, err)
			}
		})
	}
}

func TestMergeDockerAuthInput(t *testing.T) {
	for _, tc := range []struct{ host, user, pass string }{
		{"", "u", "pw-secret"}, {"https://h", "u", "pw-secret"}, {"h/prefix", "u", "pw-secret"}, {"h:x", "u", "pw-secret"},
		{"h", "", "pw-secret"}, {"h", "u", ""}, {"h", "a:b", "pw-secret"}, {"h", "u", "pw-secret\nq"},
	} {
		if _, _, err := MergeDockerAuth(nil, tc.host, tc.user, tc.pass); !errors.Is(err, ErrRegistry) {
			t.Errorf("%q %q: error %v, want ErrRegistry", tc.host, tc.user, err)
		} else if tc.pass != "" && strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("error %q shows the password", err)
		}
	}
}

// FuzzMergeDockerAuth: config.json comes from the nodes. Whatever it
// holds, the merge refuses it with a *DockerConfigError that never quotes
// it, or returns valid JSON keeping every other key and every unrelated
// auths entry, holding our entry, and a fixed point of a second merge.
func FuzzMergeDockerAuth(f *testing.F) {
	for _, s := range []string{"", "{}", `{"auths":{}}`, `{"auths":{"h:5000":{"auth":"dTpw"}}}`,
		`{"auths":{"https://H:5000/":{"username":"u","password":"p"},"o":{}},"credsStore":"x"}`,
		`{"auths":null}`, `{"auths":[]}`, `{"a":1,}`, `[1]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, old []byte) {
		const host = "h:5000"
		merged, changed, err := MergeDockerAuth(old, host, "u", "p")
		if err != nil {
			var de *DockerConfigError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DockerConfigError", err)
			}
			return
		}
		if !changed && string(merged) != string(old) {
			t.Fatal("unchanged but different")
		}
		var before, after map[string]json.RawMessage
		if len(strings.TrimSpace(string(old))) > 0 {
			if err := json.Unmarshal(old, &before); err != nil {
				t.Fatalf("accepted input that is not an object: %v", err)
			}
		}
		if err := json.Unmarshal(merged, &after); err != nil {
			t.Fatalf("merged is not an object: %v", err)
		}
		for k, v := range before {
			if k == keyAuths {
				continue
			}
			var a, b any
			_ = json.Unmarshal(v, &a)
			_ = json.Unmarshal(after[k], &b)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("key %q changed", k)
			}
		}
		var authsBefore, authsAfter map[string]any
		_ = json.Unmarshal(before[keyAuths], &authsBefore)
		if err := json.Unmarshal(after[keyAuths], &authsAfter); err != nil || authsAfter == nil {
			t.Fatalf("no auths object: %v", err)
		}
		for k, v := range authsBefore {
			if sameAuthKey(k, host) {
				continue
			}
			if !reflect.DeepEqual(authsAfter[k], v) {
				t.Fatalf("auths entry %q changed", k)
			}
		}
		if u, p, ok := entryCredentials(authsAfter[host]); !ok || u != "u" || p != "p" {
			t.Fatalf("our entry is %v", authsAfter[host])
		}
		again, changed, err := MergeDockerAuth(merged, host, "u", "p")
		if err != nil || changed || string(again) != string(merged) {
			t.Fatalf("second merge: changed=%v err=%v", changed, err)
		}
	})
}

// entryCredentials reads an auths entry as the fuzz target sees it.
func entryCredentials(v any) (user, pass string, ok bool) {
	m, _ := v.(map[string]any)
	s, _ := m["auth"].(string)
	dec, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(dec), ":")
	return user, pass, ok
}
