//go:build linux || darwin || freebsd || netbsd || openbsd

package flows

import (
	"os"
	"syscall"
)

// mapFile maps a regular file into memory, read-only, or returns nil when
// it is not worth it (smaller than minSize) or not possible. The decoders then read the
// file's pages in place: no copy into buffers that the cores would pass
// back and forth.
func mapFile(f *os.File, minSize int64) (data []byte, unmap func()) {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < minSize || fi.Size() == 0 || fi.Size() != int64(int(fi.Size())) {
		return nil, nil
	}
	data, err = syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil
	}
	return data, func() { syscall.Munmap(data) }
}

// release tells the system that the mapped pages of b (page-aligned) will
// not be read again: they leave the process's resident set, so reading a
// large file does not grow it. The file's pages stay in the page cache.
func release(b []byte) {
	if len(b) > 0 {
		syscall.Madvise(b, syscall.MADV_DONTNEED)
	}
}
