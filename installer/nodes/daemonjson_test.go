package nodes

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestMergeDaemonJSON(t *testing.T) {
	const mirror = "10.0.0.9:5000"
	tests := []struct {
		name        string
		old         string
		tls         bool
		wantChanged bool
		want        string // expected JSON (compared as data); "" with wantErr
		wantSame    bool   // merged must be old byte for byte
		wantErr     string // substring of the *DaemonJSONError
		wantKeys    []string
	}{
		{name: "missing", old: "", wantChanged: true,
			want: `{"registry-mirrors":["http://10.0.0.9:5000"],"insecure-registries":["10.0.0.9:5000"]}`},
		{name: "empty object", old: "{}", wantChanged: true,
			want: `{"registry-mirrors":["http://10.0.0.9:5000"],"insecure-registries":["10.0.0.9:5000"]}`},
		{name: "whitespace", old: " \n\t\n", wantChanged: true,
			want: `{"registry-mirrors":["http://10.0.0.9:5000"],"insecure-registries":["10.0.0.9:5000"]}`},
		{name: "invalid", old: `{"registry-mirrors": [}`, wantErr: "line 1, column 23"},
		{name: "invalid on line 3", old: "{\n  \"a\": 1,\n  \"b\": x\n}", wantErr: "line 3"},
		{name: "trailing comma", old: `{"a": 1,}`, wantErr: "invalid"},
		{name: "not an object", old: `["x"]`, wantErr: "not a JSON object"},
		{name: "data after the object", old: `{} {}`, wantErr: "after top-level value"},
		{name: "repeated key", old: `{"a": 1, "a": 2}`, wantErr: `"a" appears twice`},
		{name: "mirrors not a list", old: `{"registry-mirrors": "http://x"}`, wantErr: "list of strings"},
		{name: "insecure not a list", old: `{"insecure-registries": {"a": 1}}`, wantErr: "list of strings"},
		{name: "existing mirrors kept, ours appended",
			old:         `{"registry-mirrors": ["https://mirror.ccs.tencentyun.com"], "insecure-registries": ["10.1.1.1:5000"]}`,
			wantChanged: true,
			want:        `{"registry-mirrors":["https://mirror.ccs.tencentyun.com","http://10.0.0.9:5000"],"insecure-registries":["10.1.1.1:5000","10.0.0.9:5000"]}`},
		{name: "already there: unchanged, byte for byte",
			old:      "{\"registry-mirrors\":[\"http://10.0.0.9:5000\"],\n \"insecure-registries\":[\"10.0.0.9:5000\"]}",
			wantSame: true},
		{name: "equivalent spellings count as present",
			old:      `{"registry-mirrors":["HTTP://10.0.0.9:5000/"],"insecure-registries":["http://10.0.0.9:5000"]}`,
			wantSame: true},
		{name: "duplicates of the mirror collapse",
			old:         `{"registry-mirrors":["http://10.0.0.9:5000","http://a:1","http://10.0.0.9:5000/"],"insecure-registries":["10.0.0.9:5000","10.0.0.9:5000"]}`,
			wantChanged: true,
			want:        `{"registry-mirrors":["http://10.0.0.9:5000","http://a:1"],"insecure-registries":["10.0.0.9:5000"]}`},
		{name: "nvidia runtime and every other key kept, in order",
			old: `{
  "default-runtime": "nvidia",
  "runtimes": {"nvidia": {"path": "/usr/bin/nvidia-container-runtime", "runtimeArgs": []}},
  "data-root": "/mnt/docker",
  "log-opts": {"max-size": "100m"}
}`,
			wantChanged: true,
			want:        `{"default-runtime":"nvidia","runtimes":{"nvidia":{"path":"/usr/bin/nvidia-container-runtime","runtimeArgs":[]}},"data-root":"/mnt/docker","log-opts":{"max-size":"100m"},"registry-mirrors":["http://10.0.0.9:5000"],"insecure-registries":["10.0.0.9:5000"]}`,
			wantKeys:    []string{"default-runtime", "runtimes", "data-root", "log-opts", "registry-mirrors", "insecure-registries"}},
		{name: "pai's docker cache entries are equivalent",
			old:      `{"registry-mirrors":["http://10.0.0.9:5000"],"insecure-registries":["http://10.0.0.9:5000"]}`,
			wantSame: true},
		{name: "TLS with CA: https mirror, no insecure entry", old: `{"default-runtime":"nvidia"}`, tls: true,
			wantChanged: true,
			want:        `{"default-runtime":"nvidia","registry-mirrors":["https://10.0.0.9:5000"]}`},
		{name: "TLS leaves existing insecure entries alone", old: `{"insecure-registries":["10.0.0.9:5000"]}`, tls: true,
			wantChanged: true,
			want:        `{"insecure-registries":["10.0.0.9:5000"],"registry-mirrors":["https://10.0.0.9:5000"]}`},
		{name: "TLS already there", old: `{"registry-mirrors":["https://10.0.0.9:5000"]}`, tls: true, wantSame: true},
		{name: "numbers keep their spelling", old: `{"max-concurrent-downloads": 10, "x": 1.50}`, wantChanged: true,
			want: `{"max-concurrent-downloads":10,"x":1.50,"registry-mirrors":["http://10.0.0.9:5000"],"insecure-registries":["10.0.0.9:5000"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			merged, changed, err := MergeDaemonJSON([]byte(tt.old), mirror, tt.tls)
			if tt.wantErr != "" {
				var de *DaemonJSONError
				if !errors.As(err, &de) {
					t.Fatalf("error %v (%T), want a *DaemonJSONError", err, err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q does not mention %q", err, tt.wantErr)
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
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
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
			if strings.Contains(tt.want, "1.50") && !strings.Contains(string(merged), "1.50") {
				t.Errorf("a number was respelled:\n%s", merged)
			}
			if tt.wantKeys != nil {
				c, err := parseDaemonJSON(merged)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(c.keys, tt.wantKeys) {
					t.Errorf("key order %v, want %v", c.keys, tt.wantKeys)
				}
			}
			// Merging again changes nothing.
			again, changed, err := MergeDaemonJSON(merged, mirror, tt.tls)
			if err != nil || changed || string(again) != string(merged) {
				t.Errorf("second merge: changed=%v err=%v", changed, err)
			}
		})
	}
}

func TestMergeDaemonJSONMirrorAddress(t *testing.T) {
	for _, bad := range []string{"", "10.0.0.9", "http://10.0.0.9:5000", "10.0.0.9:5000/v2", "10.0.0.9:x", "10.0.0.9:0", ":5000"} {
		if _, _, err := MergeDaemonJSON(nil, bad, false); !errors.Is(err, ErrMirrorAddr) {
			t.Errorf("mirror %q: error %v, want ErrMirrorAddr", bad, err)
		}
	}
	if _, _, err := MergeDaemonJSON(nil, "[fd00::1]:5000", false); err != nil {
		t.Errorf("IPv6 mirror: %v", err)
	}
}

func TestAuthHidesPassword(t *testing.T) {
	a := Auth{User: "pai", Password: "hunter2-secret"}
	for _, s := range []string{a.String(), a.GoString(), a.LogValue().String()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("%q shows the password", s)
		}
	}
}

// FuzzMergeDaemonJSON: daemon.json comes from the nodes. Whatever it holds,
// the merge either refuses it or returns valid JSON that keeps every other
// key's value and is a fixed point of a second merge.
func FuzzMergeDaemonJSON(f *testing.F) {
	for _, s := range []string{"", "{}", " \n", `{"default-runtime":"nvidia","runtimes":{"nvidia":{"path":"x"}}}`,
		`{"registry-mirrors":["http://10.0.0.9:5000/"],"insecure-registries":["http://10.0.0.9:5000"]}`,
		`{"a": 1,}`, `{"a": 1, "a": 2}`, `[1]`, `{"registry-mirrors": null}`} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, old []byte, tls bool) {
		merged, changed, err := MergeDaemonJSON(old, "10.0.0.9:5000", tls)
		if err != nil {
			var de *DaemonJSONError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DaemonJSONError", err)
			}
			return
		}
		if !json.Valid(merged) {
			t.Fatalf("merged is not JSON: %q", merged)
		}
		if !changed && string(merged) != string(old) {
			t.Fatal("unchanged but different")
		}
		var before, after map[string]any
		if len(strings.TrimSpace(string(old))) > 0 {
			if err := json.Unmarshal(old, &before); err != nil {
				t.Fatalf("accepted input that is not an object: %v", err)
			}
		}
		if err := json.Unmarshal(merged, &after); err != nil {
			t.Fatal(err)
		}
		for k, v := range before {
			if k == keyRegistryMirrors || k == keyInsecureRegistries {
				continue
			}
			if !reflect.DeepEqual(after[k], v) {
				t.Fatalf("key %q changed from %v to %v", k, v, after[k])
			}
		}
		again, changed, err := MergeDaemonJSON(merged, "10.0.0.9:5000", tls)
		if err != nil || changed || string(again) != string(merged) {
			t.Fatalf("second merge: changed=%v err=%v", changed, err)
		}
	})
}

func TestAddInsecureRegistry(t *testing.T) {
	const host = "harbor.lab:8080"
	tests := []struct {
		name     string
		old      string
		want     string
		wantSame bool
		wantErr  string
	}{
		{name: "missing", old: "", want: `{"insecure-registries":["harbor.lab:8080"]}`},
		{name: "kept with the mirror's entries",
			old:  `{"registry-mirrors":["http://10.0.0.9:5000"],"insecure-registries":["10.0.0.9:5000"],"default-runtime":"nvidia"}`,
			want: `{"registry-mirrors":["http://10.0.0.9:5000"],"insecure-registries":["10.0.0.9:5000","harbor.lab:8080"],"default-runtime":"nvidia"}`},
		{name: "already there", old: `{"insecure-registries":["harbor.lab:8080"]}`, wantSame: true},
		{name: "already there as http://, other case", old: `{"insecure-registries":["http://Harbor.lab:8080/"]}`, wantSame: true},
		{name: "repeats collapse", old: `{"insecure-registries":["harbor.lab:8080","x:1","http://harbor.lab:8080"]}`,
			want: `{"insecure-registries":["harbor.lab:8080","x:1"]}`},
		{name: "not added to registry-mirrors", old: `{"registry-mirrors":[]}`,
			want: `{"registry-mirrors":[],"insecure-registries":["harbor.lab:8080"]}`},
		{name: "invalid", old: `{"insecure-registries": "x"}`, wantErr: "list of strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			merged, changed, err := AddInsecureRegistry([]byte(tt.old), host)
			if tt.wantErr != "" {
				var de *DaemonJSONError
				if !errors.As(err, &de) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want a *DaemonJSONError mentioning %q", err, tt.wantErr)
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
			var got, want any
			if err := json.Unmarshal(merged, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			if !changed || !reflect.DeepEqual(got, want) {
				t.Errorf("changed=%v merged:\n%s\nwant %s", changed, merged, tt.want)
			}
			again, changed, err := AddInsecureRegistry(merged, host)
			if err != nil || changed || string(again) != string(merged) {
				t.Errorf("second add: changed=%v err=%v", changed, err)
			}
		})
	}
	for _, bad := range []string{"", "http://harbor.lab", "harbor.lab/pai", "harbor.lab:x", "harbor lab"} {
		if _, _, err := AddInsecureRegistry(nil, bad); !errors.Is(err, ErrRegistry) {
			t.Errorf("host %q: error %v, want ErrRegistry", bad, err)
		}
	}
	if _, _, err := AddInsecureRegistry(nil, "harbor.lab"); err != nil {
		t.Errorf("a host without a port: %v", err)
	}
}

// FuzzAddInsecureRegistry: the mirror's merge, then the lab registry's
// insecure entry, on whatever daemon.json a node holds: refused with a
// *DaemonJSONError, or valid JSON that keeps every other key, lists both
// once, and is a fixed point of both.
func FuzzAddInsecureRegistry(f *testing.F) {
	for _, s := range []string{"", "{}", `{"insecure-registries":["http://H:80/"]}`, `{"insecure-registries":null}`,
		`{"registry-mirrors":["http://10.0.0.9:5000"],"insecure-registries":["10.0.0.9:5000","h:80","h:80"]}`, `{"a":[1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, old []byte) {
		const mirror, host = "10.0.0.9:5000", "h:80"
		merged, _, err := MergeDaemonJSON(old, mirror, false)
		if err == nil {
			merged, _, err = AddInsecureRegistry(merged, host)
		}
		if err != nil {
			var de *DaemonJSONError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DaemonJSONError", err)
			}
			return
		}
		var before, after map[string]any
		if len(strings.TrimSpace(string(old))) > 0 {
			if err := json.Unmarshal(old, &before); err != nil {
				t.Fatalf("accepted input that is not an object: %v", err)
			}
		}
		if err := json.Unmarshal(merged, &after); err != nil {
			t.Fatal(err)
		}
		for k, v := range before {
			if k == keyRegistryMirrors || k == keyInsecureRegistries {
				continue
			}
			if !reflect.DeepEqual(after[k], v) {
				t.Fatalf("key %q changed from %v to %v", k, v, after[k])
			}
		}
		n := 0
		for _, s := range strList(after[keyInsecureRegistries]) {
			if sameRegistry(s, host) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%s listed %d times: %s", host, n, merged)
		}
		inMirrors := func(m map[string]any) int {
			k := 0
			if list, ok := m[keyRegistryMirrors].([]any); ok {
				for _, s := range list {
					if s, _ := s.(string); strings.Contains(strings.ToLower(s), host) {
						k++
					}
				}
			}
			return k
		}
		if inMirrors(after) != inMirrors(before) {
			t.Fatalf("the registry was added to registry-mirrors: %s", merged)
		}
		again, changed, err := MergeDaemonJSON(merged, mirror, false)
		if err == nil && !changed {
			again, changed, err = AddInsecureRegistry(again, host)
		}
		if err != nil || changed || string(again) != string(merged) {
			t.Fatalf("second pass: changed=%v err=%v", changed, err)
		}
	})
}

func TestNormalDaemonJSON(t *testing.T) {
	for _, in := range []string{"", "  \n"} {
		out, changed, err := normalDaemonJSON([]byte(in))
		if err != nil || !changed || strings.TrimSpace(string(out)) != "{}" {
			t.Errorf("%q: %q %v %v, want {} written", in, out, changed, err)
		}
	}
	const kept = `{"default-runtime": "nvidia", "registry-mirrors": ["http://10.0.0.5:5000"]}`
	if out, changed, err := normalDaemonJSON([]byte(kept)); err != nil || changed || string(out) != kept {
		t.Errorf("valid content: %q %v %v, want it unchanged", out, changed, err)
	}
	var de *DaemonJSONError
	if _, _, err := normalDaemonJSON([]byte(`{"registry-mirrors": "x"}`)); !errors.As(err, &de) {
		t.Errorf("content docker refuses: %v, want a *DaemonJSONError", err)
	}
}
