// Package bundle is paimirror's bundle format: building one from a manifest
// (Build), opening one in place (Open), checking it (Verify) and describing
// it (Summary).
//
// # Format
//
// A bundle is one uncompressed POSIX tar (image layers are compressed
// already) that `tar -x` turns into a valid OCI image layout:
//
//	blobs/               directory entries
//	blobs/sha256/<hex>   every image manifest, config and layer, every file,
//	                     every Python package, and each image's layout index
//	oci-layout           {"imageLayoutVersion":"1.0.0"}
//	index.json           one descriptor per image (see below)
//	paimirror.json       the lock (Lock)
//	paimirror.json.signer  in a signed bundle: the signing key's fingerprint
//	paimirror.json.sig     in a signed bundle: the lock's signature
//
// Blob members are named by the sha256 of their content and appear once:
// content shared by several images, or by an image and a file, is stored
// once. Image manifests are stored byte for byte as the registry served them,
// with their media types, so digests never change. For a multi-platform
// image only the chosen platform's manifest is stored; the index digest is
// recorded in the lock. Every digest the lock gives for a blob is a sha256
// digest ("sha256:<hex>", or the bare hex in the sha256 fields); a lock
// read from disk (Open, ReadBase) with any other is refused as ErrCorrupt.
// The lock's digests and the Bundle's blob API are go-digest's
// digest.Digest, whose JSON form is the plain string.
//
// Each index.json descriptor points at the image's layout index: a
// single-entry OCI image index, made by Build, listing the image manifest
// with its own media type and platform, so that tools that follow only OCI
// media types in a layout (skopeo) find Docker schema 2 images too. The
// descriptors carry the annotations AnnotationRefName (the primary mirror
// name), AnnotationNames and AnnotationUpstream. index.json itself carries
// AnnotationLockSHA256, the sha256 of paimirror.json as stored (the lock
// cannot hold its own digest), which Verify checks when present.
//
// The metadata members come last. Build writes <output>.partial as it
// goes: a blob whose digest and size are known gets its member reserved
// at the end of the tar (header written, file extended over its data)
// and the download engine (bundle/internal/fetch) writes its ranges there in place,
// recording what it holds in <output>.partial.d/; other blobs (a file of
// unknown size, one with no checksum, metadata) are appended as one whole
// member once verified. Only when everything is stored does Build write
// the metadata and the end-of-archive marker, sync and rename. A killed
// build leaves a partial file whose every member but a torn last one is
// whole in size; the next Build resumes from it, hashing each member: one
// that hashes to its name is stored, one that does not is a reserved
// place whose download continues (or, no longer wanted, is left out of
// the bundle), with <output>.partial.journal recording which images and
// files are complete so that they are not asked for again.
//
// # Signature
//
// A signed bundle ends with two small plain-ustar members after the lock:
// SignerName (SignerSize bytes, "sha256:<hex>\n", the fingerprint of the
// signing key, a hint for messages) and SignatureName (SignatureSize
// bytes: the signature of paimirror.json exactly as stored, as `cosign
// sign-blob` prints it, base64, then newlines), so that `tar -x` puts the
// signature beside the lock for `cosign verify-blob`. Build writes
// neither; AttachSignature adds or replaces them in place, safe against a
// kill at any point (see there). Open reads them (Bundle.Signature);
// bundle/sign makes and checks the signature. Bundles without them open
// as before.
//
// # Delta bundles
//
// A delta (BuildOptions.Base) has the same layout and metadata, but its
// tar holds only the blobs its base's lock does not name; its lock is the
// complete lock of the new state, with Lock.Base naming the base by the
// sha256 of the base's paimirror.json as stored. A delta alone therefore
// does not extract into a whole OCI layout (the base's blobs are missing);
// extracted over its base it does. Open takes the base, then the delta
// (and a delta over that delta after it, and so on), and presents them as
// one Bundle: the last lock, index.json and signature, and each blob from
// whichever file holds it. It refuses (ErrWrongBase) a delta given without
// its base, after another bundle, or a whole bundle given after another;
// OpenOptions.NoBase opens a delta alone, to describe or sign it. A
// delta's signature covers the whole new state: its lock names every blob
// by digest and its base's lock by sha256. Changes says what a delta
// brings.
//
// # Reading in place
//
// Open reads the tar headers only, never blob data, and serves blobs as
// sections of the file (io.SectionReader over an io.ReaderAt), so its time
// and memory do not grow with the bundle's size. A bundle split into parts
// is read as their concatenation; so is a base followed by its deltas, each
// tar's end marker telling where one bundle ends and the next begins (the
// next begins with the next file). Open checks structure (each a whole tar,
// only the names above, no links, every blob the lock names present with
// its size, each delta after its base); Verify hashes every blob and
// checks every reference.
//
// # Parts
//
// Split cuts a bundle into parts for removable media, P.part001,
// P.part002, …: byte slices of the tar, cut anywhere, that concatenate to
// it byte for byte. Beside them it writes a split index, P.split.json
// (SplitIndex): JSON with each part's name, size and sha256 and the sha256
// of the bundle's lock. FindSplits finds the indexes of the parts a list
// of paths names, and SplitParts.Check checks every part against its
// index, naming one missing or damaged, before Open reads them.
//
// # Concurrency
//
// A *Bundle is safe for concurrent use and never writes. Build runs its
// downloads concurrently (BuildOptions.Jobs) and downloads a blob that
// several images share once, even when they are pulled at the same time.
package bundle
