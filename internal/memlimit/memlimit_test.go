package memlimit

import (
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	const floor, ceiling = 400, 800
	for _, c := range []struct {
		live uint64
		want int64
	}{
		{0, floor},
		{199, floor},
		{201, 402},
		{399, 798},
		{401, ceiling},
		{640, ceiling},       // four fifths of the ceiling: 1.25 times the live heap
		{641, math.MaxInt64}, // past it: lifted
	} {
		if got := Limit(c.live, floor, ceiling); got != c.want {
			t.Errorf("Limit(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}

// TestWatchFollowsThenLifts: the limit follows the live heap, is set only
// when it changes, and once lifted the watch ends.
func TestWatchFollowsThenLifts(t *testing.T) {
	lives := []uint64{100, 100, 300, 456, 700, 100, 820, 2000}
	// 400 (floor, unchanged), 400, 600, 912, 1024 (the ceiling: 700 is
	// under four fifths of it), 400, lifted.
	i := 0
	var sets []int64
	tick := make(chan time.Time)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		watch(400, 1024, func() uint64 { v := lives[i]; i++; return v }, func(v int64) int64 { sets = append(sets, v); return 0 }, tick, done)
		close(finished)
	}()
	for range 7 {
		select {
		case tick <- time.Time{}:
		case <-finished: // lifted early: the comparison below says so
		}
	}
	<-finished // lifted at the seventh reading (820 > 819): watch returns
	if want := []int64{600, 912, 1024, 400, math.MaxInt64}; i != 7 || !reflect.DeepEqual(sets, want) {
		t.Errorf("after %d readings, limits set %v, want %v", i, sets, want)
	}
}

// TestWatchStops: done ends the watch without touching the limit.
func TestWatchStops(t *testing.T) {
	done := make(chan struct{})
	close(done)
	watch(400, 1024, func() uint64 { return 1 << 40 }, func(int64) int64 { t.Error("limit changed"); return 0 }, make(chan time.Time), done)
}

// TestStartRespectsGOMEMLIMIT: a limit the user set is left alone.
func TestStartRespectsGOMEMLIMIT(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "2GiB")
	Start(Floor, Ceiling)() // no watch started; stop is a no-op
}

// gcPercent and memLimit read the collector's settings without setting
// them (the watch may set them meanwhile).
func gcPercent() int { return int(uint64Metric("/gc/gogc:percent")) }

func memLimit() int64 { return int64(uint64Metric("/gc/gomemlimit:bytes")) }

// TestStartPacesByLimit: while the limit follows the live heap, GOGC's
// trigger is off; stop puts GOGC and the limit back.
func TestStartPacesByLimit(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	was, wasLimit := gcPercent(), memLimit()
	stop := Start(Floor, 1<<50)                                 // a ceiling the watch never lifts
	floor, _ := fitContainer(Floor, 1<<50, containerLimit("/")) // the floor, in the container the test runs in
	if p, l := gcPercent(), memLimit(); p != -1 || l != floor {
		t.Errorf("after Start: GOGC %d, limit %d; want off (-1) and %d", p, l, floor)
	}
	stop()
	if p, l := gcPercent(), memLimit(); p != was || l != wasLimit {
		t.Errorf("after stop: GOGC %d, limit %d; want %d and %d", p, l, was, wasLimit)
	}
}

// TestStartLiftRestoresGOGC: when the live heap passes four fifths of the
// ceiling, the limit is lifted and GOGC paces the collector again.
func TestStartLiftRestoresGOGC(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	was := gcPercent()
	stop := Start(64<<10, 64<<10) // any live heap is past four fifths of 64 KiB
	defer stop()
	deadline := time.Now().Add(10 * time.Second)
	for gcPercent() == -1 || memLimit() != math.MaxInt64 {
		if time.Now().After(deadline) {
			t.Fatalf("not lifted after 10 s: GOGC %d, limit %d", gcPercent(), memLimit())
		}
		runtime.GC() // a live heap to read
		time.Sleep(20 * time.Millisecond)
	}
	if p := gcPercent(); p != was {
		t.Errorf("after the lift: GOGC %d, want %d", p, was)
	}
}

// TestStartRespectsGOGC: a GOGC the user set keeps pacing the collector.
func TestStartRespectsGOGC(t *testing.T) {
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "")
	was := gcPercent()
	stop := Start(Floor, 1<<50)
	defer stop()
	if p := gcPercent(); p != was {
		t.Errorf("GOGC %d after Start, want %d (the user's)", p, was)
	}
}

func TestFitContainer(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		container, floor, ceiling int64
	}{
		{0, Floor, Ceiling},               // no container limit
		{8 << 30, Floor, Ceiling},         // a roomy container
		{1024 * mib, Floor, 768 * mib},    // three quarters of 1 GiB
		{512 * mib, 192 * mib, 384 * mib}, // the floor at half the ceiling
		{-1, Floor, Ceiling},              // unreadable
	} {
		if f, cl := fitContainer(Floor, Ceiling, c.container); f != c.floor || cl != c.ceiling {
			t.Errorf("fitContainer(container %d) = %d, %d; want %d, %d", c.container, f, cl, c.floor, c.ceiling)
		}
	}
}

// TestContainerLimit reads cgroup v2 and v1 files laid out as the kernel
// lays them out, under a temporary root.
func TestContainerLimit(t *testing.T) {
	for _, c := range []struct {
		name   string
		cgroup string
		files  map[string]string
		want   int64
	}{
		{"v2", "0::/kubepods/pod1/ctr\n", map[string]string{
			"sys/fs/cgroup/kubepods/pod1/ctr/memory.max": "max\n",
			"sys/fs/cgroup/kubepods/pod1/memory.max":     "536870912\n", // the pod's limit binds
			"sys/fs/cgroup/kubepods/memory.max":          "max\n",
		}, 512 << 20},
		{"v2 inside the container", "0::/\n", map[string]string{
			"sys/fs/cgroup/memory.max": "1073741824\n",
		}, 1 << 30},
		{"v2 no limit", "0::/user.slice\n", map[string]string{
			"sys/fs/cgroup/user.slice/memory.max": "max\n",
			"sys/fs/cgroup/memory.max":            "max\n",
		}, 0},
		{"v1", "12:pids:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/docker/abc\n", map[string]string{
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "268435456\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes":            "9223372036854771712\n",
		}, 256 << 20},
		{"v1 unlimited, host path absent", "4:cpuacct,memory:/process_api/x\n", map[string]string{
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
		}, 0},
		{"garbage", "4:memory:/x\n", map[string]string{
			"sys/fs/cgroup/memory/x/memory.limit_in_bytes": "lots\n",
		}, 0},
		{"no cgroup file", "", nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			if c.cgroup != "" {
				c.files = maps.Clone(c.files)
				if c.files == nil {
					c.files = map[string]string{}
				}
				c.files["proc/self/cgroup"] = c.cgroup
			}
			for name, text := range c.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := containerLimit(root); got != c.want {
				t.Errorf("containerLimit = %d, want %d", got, c.want)
			}
		})
	}
}
