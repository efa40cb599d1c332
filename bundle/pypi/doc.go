// Package pypi carries Python packages across the air gap: it resolves a
// sequence of pip installs against a package index and serves stored files
// back to pip as a simple index. It knows the standards, not a project:
// which installs and which Pythons come from the caller (paimirror's
// manifest, python section), and downloading the chosen files is the
// caller's too (bundle's download engine).
//
// # Standards
//
// Versions and specifiers follow PEP 440 (ParseVersion, ParseSpecifierSet:
// ~=, ==, == with .*, !=, <, <=, >, >=, ===; pre-releases match only when a
// clause names one or nothing else matches, as in the packaging library).
// Requirements and environment markers follow PEP 508 (ParseRequirement,
// ParseMarker; and/or/parentheses, the PEP 508 variables, version
// comparison where both sides are versions, string comparison otherwise).
// Project names are compared in PEP 503 normal form (NormalizeName).
//
// # Targets and wheel tags
//
// A Target is a CPython on Linux with glibc: Python "3.6", Platform
// "manylinux_x86_64", Glibc "2.27". Target.Env is its marker environment and
// Target.Tags the wheel tags it installs, most preferred first, as pip 20.3
// lists them: cp36-cp36m-manylinux_2_27_x86_64 ... manylinux2014 ...
// manylinux2010 ... manylinux1, linux_x86_64, then abi3 and none, abi3 for
// older CPythons, then pure-Python tags down to py3-none-any and
// py2.py3-none-any's py30. CPython before 3.8 has the "m" ABI (cp35m,
// cp36m); 3.8 and later do not.
//
// # Index formats read
//
// JSONAPI reads PyPI's JSON API: GET {base}/pypi/{project}/json, whose
// "releases" map each version to files (filename, url, digests.sha256,
// size, requires_python, yanked); a release's dependencies come from GET
// {base}/pypi/{project}/{version}/json's info.requires_dist. SimpleAPI reads
// a simple repository: GET {root}/{project}/ with PEP 691 JSON preferred
// and PEP 503 HTML accepted (anchors whose href ends in #sha256=HEX, with
// data-requires-python, data-yanked and PEP 658/714 data-core-metadata).
// Where the index does not give a release's dependencies, they are read
// from the file: a wheel's *.dist-info/METADATA Requires-Dist; an sdist's
// PKG-INFO Requires-Dist or, failing that, setuptools' egg-info
// requires.txt; and an sdist's pyproject.toml [build-system] requires,
// which pip installs from the index to build it. Such files are downloaded
// through IndexOptions.URLs, tried in order, so a mirror can stand in for
// files.pythonhosted.org; each is checked against its sha256 as it
// streams, and bytes that do not match are dropped (*DigestError) and the
// next URL tried.
//
// # Resolution
//
// Resolve takes ordered Groups, one per pip install command, and a Target,
// and models pip 20.3: each group is resolved given what the earlier ones
// installed (kept when still satisfying, replaced otherwise), choosing the
// newest release with a usable file; see Resolve for the rules and errors.
// Resolution.Files (MergeFiles across targets) lists every file to store,
// once per sha256, with the URL and sha256 to fetch it by.
//
// # The simple index served
//
// SimpleIndex serves stored files as PEP 503 HTML:
//
//	{prefix}/simple/                      <a href="{name}/">{name}</a> per project
//	{prefix}/simple/{name}/               <a href="../../packages/{sha256}/{filename}#sha256={sha256}"
//	                                         data-requires-python="&gt;=3.6">{filename}</a> per file
//	{prefix}/packages/{sha256}/{filename} the bytes
//
// with pip configured as
// --index-url http://HOST:PORT{prefix}/simple/ --trusted-host HOST.
//
// # Concurrency
//
// Parsed values (Version, Specifier, Marker, Requirement, Target) are
// immutable and safe to share. JSONAPI and SimpleAPI are safe for
// concurrent use and cache project listings and metadata for their
// lifetime, so several Resolve calls (one per target) share one index's
// answers. Resolve itself works sequentially. SimpleIndex is safe for
// concurrent use once built; OpenFunc may be called concurrently.
//
// Libraries here never print: they return data and log through an
// optional *slog.Logger.
package pypi
