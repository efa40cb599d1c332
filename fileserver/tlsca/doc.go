// Package tlsca is the TLS of paimirror serve --tls-dir: a CA generated
// once into a directory, limited by X.509 name constraints to the mirror's
// own names and addresses, and a server certificate it signs for them,
// reissued when it nears its end or misses a name.
//
// # Files
//
// The directory holds ca.crt and server.crt (PEM certificates, 0644) and
// ca.key and server.key (PEM "EC PRIVATE KEY", P-256, 0600). The CA lives
// two years, may sign for its hosts only (each DNS name and the names
// under it, each IP address alone; critical) and no intermediate CA. A CA
// made by an older paimirror, without constraints, is kept, with a
// warning: the nodes trust it.
//
// # Concurrency
//
// Ensure reads and writes the directory without locking it: two processes
// must not run it on one directory at once. Hosts only reads.
package tlsca
