//go:build !linux

package transform

// lowerProcess and lowerWorkers change scheduling only on Linux.
func lowerProcess() {}
func lowerWorkers() {}
