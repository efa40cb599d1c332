package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/paimirror/paimirror/manifests/shell"
)

// nvidiaRuntimePackage is the package GPU workers need for docker's nvidia
// runtime (the seed guide's step 5).
const nvidiaRuntimePackage = "nvidia-container-runtime"

// nvidiaRuntime returns the nvidia-container-runtime the bundle holds for
// target in a repository the machines have in their sources
// ("nvidia-container-runtime=VERSION"), or "".
func (a *Apt) nvidiaRuntime(target string) string {
	if a == nil {
		return ""
	}
	for _, r := range a.repositories(target, true) {
		for _, p := range r.Packages {
			if PackageName(p) == nvidiaRuntimePackage {
				return p
			}
		}
	}
	return ""
}

// ensureNvidiaRuntime installs nvidia-container-runtime from the mirror
// on a GPU worker of target that lacks it, when the bundle holds it in a
// repository of the machine's sources. It reports whether the runtime is
// there afterwards (installed now or before), and what it installed.
func ensureNvidiaRuntime(ctx context.Context, c *Client, a *Apt, target string, opts PrepareOptions) (bool, string, error) {
	if !c.node.GPU {
		return false, "", nil
	}
	if _, _, err := c.Run(ctx, "command -v "+nvidiaRuntimePackage, RunOptions{}); err == nil {
		return true, "", nil
	}
	pin := a.nvidiaRuntime(target)
	if pin == "" {
		return false, "", nil
	}
	cmd := "DEBIAN_FRONTEND=noninteractive apt-get -q -y " + strings.Join(opts.aptInstallArgs, " ") + " install " + shell.Join(pin) + " 2>&1"
	out, errb, err := runApt(ctx, c, cmd, opts)
	if err != nil {
		var se *SudoError
		if errors.As(err, &se) {
			return false, "", se
		}
		msg := fmt.Sprintf("node %s: installing %s from the mirror: %v", c.node.Name, pin, withStderr(err, errb))
		if lines := aptMessages(string(out)); len(lines) > 0 {
			msg += "\n  " + strings.Join(lines, "\n  ")
		}
		return false, "", errors.New(msg + "\n  install it by hand (the seed guide's step 5), then rerun")
	}
	return true, pin, nil
}

// Docker's nvidia runtime, as the seed guide's step 5 and NVIDIA's
// instructions configure it in daemon.json.
const (
	keyDefaultRuntime = "default-runtime"
	keyRuntimes       = "runtimes"
	nvidiaRuntimeName = "nvidia"
)

// SetNvidiaRuntime makes nvidia docker's default runtime in a daemon.json
// where nothing says otherwise: "default-runtime" becomes "nvidia" when it
// is absent, and "runtimes" gets {"nvidia": {"path":
// "nvidia-container-runtime", "runtimeArgs": []}} when it has no nvidia
// entry. A default runtime set to something else is left as it is (and
// preflight reports it). Every other key is kept; changed is false, and
// merged is old, when there was nothing to add.
func SetNvidiaRuntime(old []byte) (merged []byte, changed bool, err error) {
	c, err := parseDaemonJSON(old)
	if err != nil {
		return nil, false, err
	}
	if _, ok := c.values[keyDefaultRuntime]; !ok {
		c.setRaw(keyDefaultRuntime, json.RawMessage(`"`+nvidiaRuntimeName+`"`))
		changed = true
	}
	runtimes := map[string]json.RawMessage{}
	if raw, ok := c.values[keyRuntimes]; ok {
		if err := json.Unmarshal(raw, &runtimes); err != nil {
			return nil, false, &DaemonJSONError{Path: DaemonJSONPath, Err: fmt.Errorf("%q must be an object, not %s", keyRuntimes, raw)}
		}
	}
	if _, ok := runtimes[nvidiaRuntimeName]; !ok {
		runtimes[nvidiaRuntimeName] = json.RawMessage(`{"path": "` + nvidiaRuntimePackage + `", "runtimeArgs": []}`)
		names := make([]string, 0, len(runtimes))
		for n := range runtimes {
			names = append(names, n)
		}
		slices.Sort(names)
		var b strings.Builder
		b.WriteString("{")
		for i, n := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			k, _ := json.Marshal(n)
			b.Write(k)
			b.WriteString(": ")
			b.Write(runtimes[n])
		}
		b.WriteString("}")
		c.setRaw(keyRuntimes, json.RawMessage(b.String()))
		changed = true
	}
	if !changed {
		return old, false, nil
	}
	return c.marshal(), true, nil
}

// setRaw replaces (or appends) key with a raw JSON value.
func (c *daemonConfig) setRaw(key string, raw json.RawMessage) {
	if _, ok := c.values[key]; !ok {
		c.keys = append(c.keys, key)
	}
	c.values[key] = raw
}
