// Package testenv is how paimirror's tests find what the machine they run
// on provides: the real programs they test against (skopeo, crane, sshd,
// distribution's registry, toxiproxy, cosign, nginx, ...), files a package
// installs, hosts it reaches. It is the one place that decides whether a
// test without them is skipped or fails.
//
// # Finding a program
//
// Find looks, in this order, at the program's environment variable (a
// path that must name an executable file), at bin/NAME in the cache
// directory the .ci scripts build into (CacheDir: $PAIMIRROR_CACHE, else
// the user cache dir's paimirror/), at fixed candidate paths, and at the
// name on PATH. Tool is Find for a program only looked for on PATH.
//
// # Skip or fail
//
// Whatever is missing skips the test with a message saying what was
// looked for and what provides it, or fails the test with that message
// where RequireEnv (PAIMIRROR_REQUIRE_TOOLS) is set, as .ci/run and
// .ci/bench.sh set it, so that CI never passes by skipping.
//
// The package imports nothing of paimirror's, so the tests and test aids
// of every package can use it. Its functions are safe for concurrent use;
// each costs a few stat calls, or one TCP dial (Reach).
package testenv
