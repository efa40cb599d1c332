package bundle

// Hashings returns how many times CheckBlob has read and hashed a blob of
// b.
func Hashings(b *Bundle) int64 { return b.hashings.Load() }
