// Package shell quotes text for a POSIX shell (sh, bash, dash): the one
// place paimirror builds the words of a command line that a person pastes
// or that install runs over ssh. Its functions are pure and safe for
// concurrent use.
package shell
