// Package yamltext reads and edits users' YAML files as text: the one
// place paimirror does so, shared by the manifest parser and the
// installer's editors of pai's config.yaml, layout.yaml,
// services-configuration.yaml and playbooks.
//
// # Reading
//
// DecodeOne parses a file as exactly one YAML document without letting a
// parser panic escape; ErrorLine and FileError turn a yaml.v3 error into
// "NAME:LINE: yaml: ..." with the line a user looks at. Root, Lookup,
// Resolve, IsString, IsFlow and Describe walk and name the nodes.
//
// # Editing
//
// An edit keeps every byte it does not mean to change: comments, quoting,
// blank lines, order and line endings. A Text is the file split into
// lines, each keeping its ending; its methods (SetValue, ReplaceScalar,
// AddToFlowMapping, SetLine, InsertAfter) turn a change at the positions
// yaml.v3 reports into an Edit of whole lines, and Apply writes the
// edits, made against the original lines, in one pass. Added lines get
// the line ending most lines use. What an edit cannot do in place (a
// value that does not fit on its line, a node not where the parser put
// it) is an *EditError, and nothing is changed; callers check the result
// by parsing it again. So is a text with a line break yaml.v3 counts and
// Lines does not (a lone "\r", NEL, LS, PS: CheckBreaks), where the
// parser's positions would not be the Text's.
//
// ScalarEnd, ByteOffset, Lines, CutEOL and Indent are the line-level
// pieces, for editors of other line-based files too.
//
// # Cost and concurrency
//
// Every function is pure: it reads its arguments and allocates its
// result, in time linear in the text (Apply and AddToFlowMapping copy it
// once). A Text is not changed by its methods and may be shared by
// goroutines.
package yamltext
