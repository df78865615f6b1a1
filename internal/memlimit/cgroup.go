package memlimit

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// A container's memory limit bounds ppc's own: the collector lets the heap
// grow to the limit before it collects, so a limit above what the
// container may use would have the kernel kill ppc where collecting
// earlier would have kept it alive (a CI job in a 512 MiB container, say).

// containerShareNum/containerShareDen is the share of the container's
// limit the ceiling may take: the rest is for what Go's limit does not
// count (the binary, the kernel's accounting of page cache and files
// written).
const containerShareNum, containerShareDen = 3, 4

// fitContainer returns floor and ceiling lowered for a container limited to
// container bytes (0: no limit): the ceiling at most three quarters of it,
// the floor at most half the ceiling.
func fitContainer(floor, ceiling, container int64) (int64, int64) {
	if container <= 0 {
		return floor, ceiling
	}
	ceiling = min(ceiling, container/containerShareDen*containerShareNum)
	return min(floor, ceiling/2), ceiling
}

// unlimited is where cgroup v1 reports "no limit" (the largest multiple of
// the page size); anything above it is no limit too.
const unlimited = 1 << 62

// containerLimit returns the memory limit of the cgroup this process runs
// in: the tightest of its own and its ancestors' (cgroup v2 memory.max,
// cgroup v1 memory.limit_in_bytes), read under root ("/" but in tests). 0:
// none, or none could be read.
func containerLimit(root string) int64 {
	f, err := os.Open(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return 0
	}
	defer f.Close()
	var limit int64
	tighter := func(file string) {
		b, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			return
		}
		v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
		if err != nil || v <= 0 || v >= unlimited { // "max", or v1's no limit
			return
		}
		if limit == 0 || v < limit {
			limit = v
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controllers:path ("0::/path" on cgroup v2)
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var dir, file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			dir, file = "sys/fs/cgroup", "memory.max"
		case hasController(parts[1], "memory"):
			dir, file = "sys/fs/cgroup/memory", "memory.limit_in_bytes"
		default:
			continue
		}
		// The path as the host names it, up to the root: inside a
		// container only the root (the container's own cgroup) may exist.
		for p := path.Clean("/" + parts[2]); ; p = path.Dir(p) {
			tighter(path.Join(dir, p, file))
			if p == "/" {
				break
			}
		}
	}
	return limit
}

// hasController reports whether the comma-separated list holds c.
func hasController(list, c string) bool {
	for x := range strings.SplitSeq(list, ",") {
		if x == c {
			return true
		}
	}
	return false
}
