//go:build unix

package reports

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// canLock says whether lockDir locks on this system.
const canLock = true

// lockDir takes an exclusive lock on dir (flock on the directory itself:
// nothing is written into it, and the kernel releases the lock when the
// process dies, so a killed ppc leaves no stale lock).
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s is being written by another ppc: wait for it to finish, or write elsewhere", dir)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
