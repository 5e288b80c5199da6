//go:build !linux

package state

// procStart and procExe are known on Linux only (/proc); elsewhere a live
// pid is taken for the lock's holder, as before.
func procStart(int) string { return "" }
func procExe(int) string   { return "" }
