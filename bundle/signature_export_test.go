package bundle

// SetAttachHook makes AttachSignature call f after each step it syncs
// (its name) and stop there when f returns an error, as a kill would;
// restore undoes it.
func SetAttachHook(f func(step string) error) (restore func()) {
	attachHook = f
	return func() { attachHook = nil }
}
