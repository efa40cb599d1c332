package nodes

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/paimirror/paimirror/manifests/shell"
)

// Registry is a lab registry (Harbor, distribution's registry) that the
// install pulls every image from (paimirror install --registry, after
// paimirror push), as the nodes reach it. Host is required; the zero value
// of every other field works: HTTPS verified with the machines' own
// trust, anonymous pulls, no probe image.
//
// Its String, GoString and LogValue never show the password.
type Registry struct {
	// Host is "HOST" or "HOST:PORT", the registry part of the image names:
	// no scheme, no path (the path prefix belongs to the image names).
	Host string
	// Insecure says the registry speaks plain HTTP: Prepare adds Host to
	// daemon.json's insecure-registries (restarting docker). Default
	// false: HTTPS.
	Insecure bool
	// CAPEM is the PEM certificate of the authority that signed the
	// registry's certificate (HTTPS only). Prepare writes it to
	// CAPath(Host), which docker trusts for this registry alone; it is not
	// added to the system's trust. Default empty: the machines already
	// trust the certificate.
	CAPEM []byte
	// Username and Password are an account that may pull (a private Harbor
	// project; a robot account does): both or neither. Prepare writes them
	// to RootDockerConfigPath and KubeletDockerConfigPath on every
	// machine; preflight sends them with basic auth, and to a bearer token
	// service when the registry asks for a token. Default empty:
	// anonymous pulls.
	Username, Password string
	// Probe is one image the install pulls from the registry,
	// "HOST[:PORT]/REPOSITORY:TAG" or "HOST[:PORT]/REPOSITORY@DIGEST" with
	// Host as its host: preflight asks for its manifest from every
	// machine, which tells "not pushed" from the rest. Default "": only
	// /v2/ is asked for.
	Probe string
}

// String describes the registry without its password.
func (r Registry) String() string {
	var b strings.Builder
	b.WriteString(r.Host)
	b.WriteString(" (")
	b.WriteString(r.scheme())
	if len(r.CAPEM) > 0 {
		b.WriteString(", own CA")
	}
	if r.Username != "" {
		fmt.Fprintf(&b, ", user %s, password hidden", r.Username)
	} else {
		b.WriteString(", anonymous")
	}
	if r.Probe != "" {
		fmt.Fprintf(&b, ", probe %s", r.Probe)
	}
	b.WriteString(")")
	return b.String()
}

// GoString is String, for %#v.
func (r Registry) GoString() string { return "nodes.Registry{" + r.String() + "}" }

// LogValue logs the registry without its password.
func (r Registry) LogValue() slog.Value {
	return slog.GroupValue(slog.String("host", r.Host), slog.Bool("insecure", r.Insecure),
		slog.Bool("ca", len(r.CAPEM) > 0), slog.String("user", r.Username), slog.String("probe", r.Probe))
}

func (r Registry) scheme() string {
	if r.Insecure {
		return "http"
	}
	return "https"
}

// validate checks every field; its errors wrap ErrRegistry and never show
// the password.
func (r *Registry) validate() error {
	if err := checkRegistryHost(r.Host); err != nil {
		return err
	}
	if len(r.CAPEM) > 0 {
		if r.Insecure {
			return fmt.Errorf("%w %s: a CA is for a registry that speaks HTTPS, and this one is plain HTTP (Insecure)", ErrRegistry, r.Host)
		}
		if err := checkCertificates(r.CAPEM); err != nil {
			return fmt.Errorf("%w %s: its CA: %v", ErrRegistry, r.Host, err)
		}
	}
	if err := checkCredentials(r.Username, r.Password); err != nil {
		return err
	}
	if r.Probe != "" {
		if _, _, err := parseProbe(r.Host, r.Probe); err != nil {
			return err
		}
	}
	return nil
}

// checkCertificates accepts PEM holding one or more certificates and
// nothing else.
func checkCertificates(data []byte) error {
	n := 0
	for rest := data; ; n++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			if n == 0 || len(strings.TrimSpace(string(rest))) > 0 {
				return errors.New("not a PEM certificate")
			}
			return nil
		}
		if b.Type != "CERTIFICATE" {
			return fmt.Errorf("a PEM %s, not a CERTIFICATE", b.Type)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Errorf("not a PEM certificate: %v", err)
		}
	}
}

// The parts of an image reference, as distribution's reference grammar
// has them.
var (
	repositoryName = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagName        = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestName     = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$`)
)

// parseProbe splits a probe reference "HOST[:PORT]/REPOSITORY:TAG" (or
// "@DIGEST") on host into its repository and its tag or digest.
func parseProbe(host, probe string) (repo, ref string, err error) {
	want := fmt.Sprintf("want %s/REPOSITORY:TAG", host)
	h, rest, ok := strings.Cut(probe, "/")
	if !ok || !strings.EqualFold(h, host) {
		return "", "", fmt.Errorf("%w: probe image %q is not on %s: %s", ErrRegistry, probe, host, want)
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		repo, ref = rest[:i], rest[i+1:]
		if !digestName.MatchString(ref) {
			return "", "", fmt.Errorf("%w: probe image %q: %q is not a digest (ALGORITHM:HEX)", ErrRegistry, probe, ref)
		}
	} else if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		repo, ref = rest[:i], rest[i+1:]
		if !tagName.MatchString(ref) {
			return "", "", fmt.Errorf("%w: probe image %q: %q is not a tag (letters, digits, '_', '.', '-'; not first '.' or '-')", ErrRegistry, probe, ref)
		}
	} else {
		return "", "", fmt.Errorf("%w: probe image %q has no tag: %s", ErrRegistry, probe, want)
	}
	if !repositoryName.MatchString(repo) {
		return "", "", fmt.Errorf("%w: probe image %q: %q is not a repository name (lower case letters, digits and separators)", ErrRegistry, probe, repo)
	}
	return repo, ref, nil
}

// prepareRegistry gives the machine what docker and kubelet need to pull
// from a lab registry over HTTPS: its CA in docker's certs.d, and its
// credentials in root's and kubelet's docker config.json. (A plain HTTP
// registry's insecure-registries entry is part of the daemon.json merge.)
func prepareRegistry(ctx context.Context, c *Client, reg *Registry, r *PrepareResult) error {
	if !reg.Insecure && len(reg.CAPEM) > 0 {
		ok, err := installCA(ctx, c, reg.Host, reg.CAPEM)
		if err != nil {
			return err
		}
		r.RegistryCAInstalled = ok
	}
	if reg.Username == "" {
		return nil
	}
	for _, path := range []string{RootDockerConfigPath, KubeletDockerConfigPath} {
		old, errb, err := c.Run(ctx, readFileCmd(path), RunOptions{Sudo: true})
		if err != nil && !isAbsent(err) {
			return fmt.Errorf("node %s: reading %s: %w", c.node.Name, path, withStderr(err, errb))
		}
		merged, changed, err := MergeDockerAuth(old, reg.Host, reg.Username, reg.Password)
		if err != nil {
			var de *DockerConfigError
			if errors.As(err, &de) {
				de.Node, de.Path = c.node.Name, path
			}
			return err
		}
		if !changed {
			continue
		}
		// The credentials go on standard input, never on a command line.
		if _, errb, err := c.Run(ctx, writeSecretFileScript(path), RunOptions{Sudo: true, Stdin: merged}); err != nil {
			return fmt.Errorf("node %s: writing %s: %w", c.node.Name, path, withStderr(err, errb))
		}
		r.RegistryAuth = append(r.RegistryAuth, path)
	}
	return nil
}

// writeSecretFileScript replaces path with its standard input, atomically,
// with mode 0600; a missing directory is made with mode 0700 (0750 for
// kubelet's, as kubelet makes it).
func writeSecretFileScript(path string) string {
	dirMode := "0700"
	if path == KubeletDockerConfigPath {
		dirMode = "0750"
	}
	return fmt.Sprintf(`set -e
f=%s; d=$(dirname "$f")
if [ ! -d "$d" ]; then mkdir -p "$(dirname "$d")"; mkdir -m %s "$d"; fi
t=$(mktemp "$f.paimirror-tmp.XXXXXX")
trap 'rm -f "$t"' EXIT
cat > "$t"
chmod 0600 "$t"
mv -f "$t" "$f"
trap - EXIT`, shell.Quote(path), dirMode)
}

// manifestAccept is what the registry check accepts: every manifest and
// index kind docker 18.09 and 19.03 pull.
const manifestAccept = "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, " +
	"application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json"

// registryCheck returns the script the registry check runs on a machine,
// as the SSH user, and its standard input. The script holds the URL, the
// CA (public) and nothing secret: the credentials are curl configuration
// ("user = ...") on standard input, which the script keeps in a shell
// variable and hands to each curl with the shell's builtin printf on a
// pipe (curl -K -), so no command line and no file holds them.
//
// It asks for the probe's manifest (HEAD, docker's Accept headers), or
// /v2/ without a probe, with basic auth when there are credentials. A 401
// with a Bearer challenge (Harbor, Docker Hub) gets the standard token
// flow: GET realm?service=..&scope=.. (with basic auth when there are
// credentials), then the request again with the token. It prints
// step= (registry or token), curl= (curl's exit status), status= (the
// HTTP status), auth= (how it asked), realm= (the token service), and
// exits 12 when there is no curl.
func registryCheck(reg *Registry) (script string, stdin []byte) {
	url, scope := reg.scheme()+"://"+reg.Host+"/v2/", ""
	if reg.Probe != "" {
		repo, ref, _ := parseProbe(reg.Host, reg.Probe) // validated
		url += repo + "/manifests/" + ref
		scope = "repository:" + repo + ":pull"
	}
	ca := "k=; c=\n"
	if !reg.Insecure && len(reg.CAPEM) > 0 {
		ca = fmt.Sprintf("c=$(mktemp) && printf '%%s' %s > \"$c\" || exit 13\nk=\"--cacert $c\"\n", shell.Quote(string(reg.CAPEM)))
	}
	script = fmt.Sprintf(`url=%s; scope=%s; acc=%s
command -v curl >/dev/null 2>&1 || { echo "no curl on the node to ask the registry with" >&2; exit 12; }
%sh=$(mktemp) || exit 13
trap 'rm -f "$h" $c' EXIT
cred=$(cat)
auth=anonymous; [ -z "$cred" ] || auth="basic auth"
step=registry
code=$(printf '%%s\n' "$cred" | curl -sS --proto =http,https --max-time 15 $k -K - -I -o /dev/null -D "$h" -H "$acc" -w '%%{http_code}' "$url"); rc=$?
if [ $rc -eq 0 ] && [ "$code" = 401 ]; then
  ch=$(tr -d '\r' < "$h" | grep -i '^www-authenticate:[[:space:]]*bearer ' | head -n 1)
  if [ -n "$ch" ]; then
    realm=$(printf '%%s\n' "$ch" | sed -n 's/.*realm="\([^"]*\)".*/\1/p')
    service=$(printf '%%s\n' "$ch" | sed -n 's/.*service="\([^"]*\)".*/\1/p')
    s=$(printf '%%s\n' "$ch" | sed -n 's/.*scope="\([^"]*\)".*/\1/p'); [ -z "$s" ] || scope=$s
    step=token; echo "realm=$realm"
    code=$(printf '%%s\n' "$cred" | curl -sS --proto =http,https --max-time 15 $k -K - -G ${service:+--data-urlencode} ${service:+"service=$service"} ${scope:+--data-urlencode} ${scope:+"scope=$scope"} -o "$h" -w '%%{http_code}' "$realm"); rc=$?
    if [ $rc -eq 0 ] && [ "$code" = 200 ]; then
      tok=$(tr -d '\r\n' < "$h" | sed -n 's/.*"token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
      [ -n "$tok" ] || tok=$(tr -d '\r\n' < "$h" | sed -n 's/.*"access_token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
      if [ -z "$tok" ]; then echo notoken=yes; else
        step=registry; auth="token, $auth"
        code=$(printf 'header = "Authorization: Bearer %%s"\n' "$tok" | curl -sS --proto =http,https --max-time 15 $k -K - -I -o /dev/null -H "$acc" -w '%%{http_code}' "$url"); rc=$?
      fi
    fi
  fi
fi
echo "step=$step"; echo "curl=$rc"; echo "status=$code"; echo "auth=$auth"`,
		shell.Quote(url), shell.Quote(scope), shell.Quote(manifestAccept), ca)
	if reg.Username != "" {
		stdin = []byte(`user = "` + curlQuote(reg.Username+":"+reg.Password) + "\"\n")
	}
	return script, stdin
}

// curlQuote escapes s for a double-quoted value of curl's configuration
// (validate has refused control characters).
func curlQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// curl's exit statuses that mean the registry could not be reached, and
// those that mean TLS failed.
var (
	curlUnreachable = []int{5, 6, 7, 28}
	curlTLS         = []int{35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91}
)

// checkRegistryReach is the registry check: the lab registry answers
// from the machine and serves the probe's manifest.
func checkRegistryReach(ctx context.Context, p *probe) outcome {
	reg := p.opts.Registry
	script, stdin := registryCheck(reg)
	out, errb, err := p.c.Run(ctx, script, RunOptions{Stdin: stdin})
	var ce *CommandError
	if errors.As(err, &ce) && ce.Status == 12 {
		return outcome{soft: true, detail: "not checked: no curl on the node",
			fix: "sudo apt-get install -y curl on " + p.n.Name + " for this check, or try " + pullTry(reg) + " there"}
	}
	if err != nil {
		return problem("checking the registry failed: "+firstLines(string(errb)+" "+err.Error(), 2), "")
	}
	kv := keyValues(string(out), "=")
	rc, _ := strconv.Atoi(kv["curl"])
	status, _ := strconv.Atoi(kv["status"])
	msg := firstLines(string(errb), 1)
	base := reg.scheme() + "://" + reg.Host
	url := base + "/v2/"
	if reg.Probe != "" {
		repo, ref, _ := parseProbe(reg.Host, reg.Probe)
		url += repo + "/manifests/" + ref
	}
	target := url
	if kv["step"] == "token" {
		target = "the token service " + kv["realm"]
	}
	_, port, err := net.SplitHostPort(reg.Host)
	if err != nil {
		port = map[bool]string{true: "80", false: "443"}[reg.Insecure]
	}
	try := curlTry(reg)

	switch {
	case rc != 0 && slices.Contains(curlUnreachable, rc):
		return problem(fmt.Sprintf("cannot connect to %s: %s", target, msg),
			fmt.Sprintf("make %s reachable from %s: is the registry up, is %s the address the nodes use, does a firewall block port %s? %s",
				reg.Host, p.n.Name, reg.Host, port, try))
	case rc != 0 && slices.Contains(curlTLS, rc):
		fix := "give the CA that signed the registry's certificate with --registry-ca FILE"
		if len(reg.CAPEM) > 0 {
			fix = fmt.Sprintf("the registry's certificate is not signed by the CA given with --registry-ca, or not made for %s: give the CA that signed it", reg.Host)
		}
		return problem(fmt.Sprintf("TLS with %s failed: %s", target, msg), fix+" (or, for a registry that speaks plain HTTP, --registry-insecure)")
	case rc == 52 && reg.Insecure:
		return problem(fmt.Sprintf("%s sent an empty reply to plain HTTP: it probably speaks HTTPS", target),
			"drop --registry-insecure (and give --registry-ca FILE if the nodes do not trust its certificate)")
	case rc != 0:
		return problem(fmt.Sprintf("asking %s failed (curl exit status %d): %s", target, rc, msg),
			fmt.Sprintf("check the registry at %s from %s %s", reg.Host, p.n.Name, try))
	case kv["step"] == "token" && (status == 401 || status == 403):
		if reg.Username == "" {
			return problem(fmt.Sprintf("%s gives no anonymous token (%d)", target, status), credentialsFix(reg))
		}
		return problem(fmt.Sprintf("%s refused the credentials of %s (%d)", target, reg.Username, status), credentialsFix(reg))
	case kv["step"] == "token" && status != 200:
		return problem(fmt.Sprintf("%s answered %d to the token request", target, status),
			fmt.Sprintf("check the registry at %s %s", reg.Host, try))
	case kv["notoken"] != "":
		return problem(fmt.Sprintf("%s answered without a token", target),
			fmt.Sprintf("check the registry at %s %s", reg.Host, try))
	case status == 200:
		return pass(fmt.Sprintf("%s answered 200 (%s)", url, kv["auth"]))
	case status == 401 && reg.Username == "":
		return problem(fmt.Sprintf("%s needs credentials (401)", url), credentialsFix(reg))
	case status == 401:
		return problem(fmt.Sprintf("%s refused the credentials of %s (401)", url, reg.Username), credentialsFix(reg))
	case status == 403:
		return problem(fmt.Sprintf("%s denied %s the image (403)", url, map[bool]string{true: "anonymous pulls", false: reg.Username}[reg.Username == ""]),
			"give the account pull rights on the project (Harbor: a member with the Guest role or above, or a robot account that may pull)")
	case status == 404 && reg.Probe != "":
		repo, ref, _ := parseProbe(reg.Host, reg.Probe)
		sep := ":"
		if strings.Contains(ref, ":") {
			sep = "@"
		}
		return problem(fmt.Sprintf("%s%s%s is not in the registry (404)", repo, sep, ref),
			fmt.Sprintf("push the bundle's images to the registry first: paimirror push BUNDLE %s/PREFIX, with the PREFIX given to --registry (%s is one of them)", reg.Host, reg.Probe))
	case status == 404:
		return problem(fmt.Sprintf("%s answered 404: not a registry's API", url),
			fmt.Sprintf("give --registry the HOST[:PORT] of a registry serving the Docker registry API v2 %s", try))
	case status == 400 && reg.Insecure:
		return problem(fmt.Sprintf("%s answered 400 to plain HTTP: it speaks HTTPS", url),
			"drop --registry-insecure (and give --registry-ca FILE if the nodes do not trust its certificate)")
	}
	return problem(fmt.Sprintf("%s answered %d", url, status), fmt.Sprintf("check the registry at %s from %s %s", reg.Host, p.n.Name, try))
}

// credentialsFix says how to give the registry credentials it takes.
func credentialsFix(reg *Registry) string {
	if reg.Username == "" {
		return "the registry's project is private: give --registry-username (and its password) of an account that may pull from it (Harbor: a project member or a robot account)"
	}
	return fmt.Sprintf("check --registry-username (%s) and its password: an account of %s that may pull from the project (Harbor: a project member or a robot account)", reg.Username, reg.Host)
}

// curlTry is the hint to ask the registry's API with curl on the node;
// the URL is one word (shell.Word: validate lets "$(...)" through).
func curlTry(reg *Registry) string {
	return fmt.Sprintf("(try `curl -v %s` on the node)", shell.Word(reg.scheme()+"://"+reg.Host+"/v2/"))
}

// pullTry is the hint to pull the probe image (or an image of the
// registry) with docker on the node, the image one word (shell.Word).
func pullTry(reg *Registry) string {
	return "`docker pull " + shell.Word(probeOr(reg)) + "`"
}

// probeOr returns the probe image, or the registry's host.
func probeOr(reg *Registry) string {
	if reg.Probe != "" {
		return reg.Probe
	}
	return reg.Host + "/IMAGE:TAG"
}
