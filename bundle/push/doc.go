// Package push copies a bundle's images into another registry: the lab's
// own (Harbor, distribution's registry, zot), under a path prefix such as a
// Harbor project.
//
// # What it promises
//
// Every selected image goes to REGISTRY/PREFIX/REPO:TAG for each of its
// mirror names, byte for byte: its manifest is sent as the bundle stores
// it, so digests are unchanged and `docker pull REGISTRY/PREFIX/REPO@DIGEST`
// matches the lock. An image counts as pushed only once its manifest is
// accepted; a manifest is sent only after every blob it references is in
// its repository, so a registry never holds a tag whose pull fails.
//
// # Cost
//
// Push first plans (Plan): one HEAD per manifest name and one per blob and
// repository, Jobs at a time. A blob already in the target repository is
// not sent. A blob missing there but in another repository of the same
// push is mounted (POST ?mount=&from=, no bytes) once that repository has
// it; only the first repository to need a blob uploads it, so each unique
// blob crosses the network at most once per run. A rerun after a finished
// push sends no blob and no manifest; after an interrupted one (killed,
// network lost) it sends only what is still missing. A blob's upload is
// one monolithic PUT read straight from the bundle file (no copy, no
// temporary file); one broken in the middle is sent again from its start.
//
// # Deltas
//
// A delta bundle goes with its base, opened as one Bundle (bundle.Open(BASE,
// DELTA)): the images of the new state are pushed, each blob read from
// whichever file holds it. The repositories the earlier states' images
// went to (under the same target) count as sources too: a blob that no
// repository of the push holds is looked for there, one HEAD per
// repository in turn, and mounted from the first that has it, so a blob
// the registry got with the base's push is never sent again, even into a
// repository the base had no image in. A delta opened without its base
// (bundle.OpenOptions.NoBase) is pushed only when the registry holds
// everything the delta lacks; otherwise Push refuses it before writing
// anything (bundle.ErrWrongBase, naming the base).
//
// # Credentials
//
// Options.Auth, else the keychain (docker's config.json, as `docker login`
// writes it). Passwords are never logged; errors name the registry and the
// user, never the password, and show URLs without their query values (a
// registry's upload URL carries its signed upload state there) or
// userinfo (package manifests/redact). A registry address with
// credentials in it is refused without repeating them.
package push
