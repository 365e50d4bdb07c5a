//go:build !linux

package transform

// threadLowerer changes scheduling only on Linux.
type threadLowerer struct{}

func (*threadLowerer) lowerProcess() {}
func (*threadLowerer) lowerNew()     {}
