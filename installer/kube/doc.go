// Package kube is the small Kubernetes client paimirror's install uses after
// pai's quick-start has brought a cluster up: it checks that the cluster is
// healthy (CheckCluster) and creates the NFS storage OpenPAI mounts
// (EnsureNFS), through the Kubernetes API and the kubeconfig pai leaves at
// ~/pai-deploy/kube/config (DefaultKubeconfig; installer/pai owns that
// path: DeployDir, KubeconfigFile).
//
// It is deliberately not client-go: a typed REST client over net/http that
// speaks JSON to the core/v1 API and knows only the fields paimirror reads
// or writes, so the static paimirror binary stays small. Those fields are
// stable from Kubernetes v1.15 (the version OpenPAI v1.8.0 installs) to
// today; the package's tests run against a real kube-apiserver v1.32 (see
// the kubetest package).
//
// # Kubeconfig
//
// LoadConfig reads a kubeconfig file (YAML): the current context (or a
// chosen one), its cluster's server, certificate-authority or
// certificate-authority-data, insecure-skip-tls-verify and tls-server-name,
// and its user's client-certificate(-data) and client-key(-data), token or
// tokenFile. Relative file names are relative to the kubeconfig's directory,
// as kubectl resolves them. Exec plugins, auth providers and basic auth are
// refused with an error that says so.
//
// # Errors
//
// A request the API server refuses returns an *APIError with the HTTP
// status code, the API's reason (NotFound, AlreadyExists, Conflict, ...) and
// its message; errors.Is matches it against ErrNotFound, ErrAlreadyExists,
// ErrConflict, ErrUnauthorized, ErrForbidden and ErrInvalid. EnsureNFS
// returns a *ConflictError when the volume or claim already exists with
// other settings, and a *NotBoundError when the claim does not bind in time.
// Tokens, keys and passwords never appear in errors or logs.
//
// # Concurrency
//
// A Client is safe for concurrent use by multiple goroutines. EnsureNFS is
// not meant to run concurrently for the same volume.
package kube
