// Package atomicfile replaces a file's content so that a reader, or the
// machine after a crash, sees either the whole old content or the whole
// new one, never a mix or an empty file: the one way paimirror writes a
// small file in place (keys, known_hosts, the install's step state, edited
// configuration).
//
// # On disk
//
// The new content is written to a temporary file beside the target, named
// "." + base name + "." + random digits (so it is hidden, and on the same
// file system, which a rename needs), given its permissions, flushed to
// disk, renamed over the target, and then the directory is flushed so the
// rename itself survives a crash. A crash can leave such a temporary file
// behind; nothing else ever does.
//
// # Where it lives
//
// Its callers are in cmd/paimirror and in several installer packages, and
// bundle, registry and fileserver may need it too; it imports nothing of
// paimirror's. Like yamltext and shell it therefore sits in the lowest
// room, under manifests, which every package may import (imports flow
// cmd → installer, registry, fileserver, bundle → manifests).
//
// # Concurrency
//
// WriteFile is safe for concurrent use. Concurrent writes to one path each
// use their own temporary file; the last rename wins, and the file always
// holds one writer's whole content.
package atomicfile
