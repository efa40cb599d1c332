package push

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Error is a push in which some images failed while others went through.
type Error struct {
	// Total is the number of images selected.
	Total int
	// Failed is each failed image with its error, in lock order.
	Failed []ImageError
}

// ImageError is one image that did not reach the registry whole.
type ImageError struct {
	Ref string
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d images failed to push (the others are in the registry; rerun to send only what is missing):", len(e.Failed), e.Total)
	for _, f := range e.Failed {
		fmt.Fprintf(&b, "\n  %s: %v", f.Ref, f.Err)
	}
	return b.String()
}

// fatalError is a failure every request would meet (credentials,
// permissions, a missing project, TLS, an unreachable registry): Push stops
// at the first one.
type fatalError struct {
	msg string
	err error
}

func (e *fatalError) Error() string { return e.msg }
func (e *fatalError) Unwrap() error { return e.err }

// isFatal reports whether err is a fatalError.
func isFatal(err error) bool {
	var f *fatalError
	return errors.As(err, &f)
}

// explain turns err, met while doing something for unit u (nil: for the
// registry as a whole), into a message that says what to do. Failures that
// every request would meet become fatalErrors.
func (p *pusher) explain(err error, doing string, u *unit) error {
	if err == nil || isFatal(err) {
		return err
	}
	host := p.t.Registry.RegistryStr()
	where := host
	if u != nil {
		where = u.repo.String()
	}
	fatal := func(format string, args ...any) error {
		return &fatalError{msg: fmt.Sprintf(format, args...), err: err}
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusUnauthorized:
			who := "no credentials"
			if p.o.Username != "" {
				who = "the password of " + p.o.Username
			}
			return fatal("%s refused %s (401 Unauthorized) while %s: log in with `docker login %s`, or pass --username and the password on standard input with --password-stdin", host, who, doing, host)
		case te.StatusCode == http.StatusForbidden || hasCode(te, transport.DeniedErrorCode):
			who := "the account"
			if p.o.Username != "" {
				who = p.o.Username
			}
			return fatal("%s may not push to %s (403 Forbidden) while %s: give %s push rights there (in Harbor: a member of project %q with the Developer role or above, or a robot account with push permission)", who, where, doing, who, p.t.project())
		case te.StatusCode == http.StatusNotFound && p.t.Prefix != "":
			return fatal("%s answered 404 Not Found while %s: is there a project %q? Create it (in Harbor: Projects, New Project) or correct the prefix of %s", host, doing, p.t.project(), p.t)
		case hasCode(te, transport.DigestInvalidErrorCode) || hasCode(te, transport.BlobUploadInvalidErrorCode):
			return fmt.Errorf("the registry found the bytes wrong while %s (%v): the bundle may be damaged; run paimirror verify on it", doing, err)
		}
		return fmt.Errorf("%s: %w", doing, err)
	}
	var unknownCA x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &unknownCA):
		return fatal("%s's certificate is signed by a CA this machine does not trust: pass --ca FILE with that CA's certificate (PEM)", host)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fatal("%s's certificate chain has expired (%v): renew the certificate (or its CA) on the registry", host, invalid)
	case errors.As(err, &invalid):
		return fatal("%s's certificate is not valid: %v", host, invalid)
	case errors.As(err, &hostname):
		return fatal("%s's certificate is not valid for %s (%v): use the name the certificate was made for", host, hostname.Host, err)
	case errors.Is(err, errPlainHTTP):
		return fatal("%s does not answer HTTPS (%v): if it serves plain HTTP, pass --insecure or write http://%s", host, err, p.t.String())
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fatal("%s serves plain HTTP: pass --insecure or write http://%s", host, p.t.String())
	case errors.Is(err, syscall.ECONNREFUSED):
		return fatal("cannot reach %s (connection refused): is the registry running, and is the address right?", host)
	}
	return fmt.Errorf("%s (%s): %w", doing, where, err)
}

// hasCode reports whether the registry's error body names code.
func hasCode(te *transport.Error, code transport.ErrorCode) bool {
	for _, d := range te.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}
