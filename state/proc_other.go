//go:build !unix

package state

import "os"

// pidAlive reports whether a process with this pid exists. Without signal 0
// the best portable test is FindProcess, which on Windows opens the process.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	_ = p.Release()
	return true
}
