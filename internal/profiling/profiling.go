// Package profiling writes the CPU and heap profiles of one ppc run
// (--cpuprofile, --memprofile) with runtime/pprof.
package profiling

import (
	"os"
	"runtime"
	"runtime/pprof"
)

// Profiler writes a CPU profile of the run to CPU and a heap profile at
// its end to Mem (each only when set).
type Profiler struct {
	CPU, Mem string
	cpuFile  *os.File
}

// Start starts the CPU profile.
func (pr *Profiler) Start() error {
	if pr.CPU == "" {
		return nil
	}
	f, err := os.Create(pr.CPU)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	pr.cpuFile = f
	return nil
}

// Stop ends the CPU profile and writes the heap profile.
func (pr *Profiler) Stop() error {
	if pr.cpuFile != nil {
		pprof.StopCPUProfile()
		if err := pr.cpuFile.Close(); err != nil {
			return err
		}
	}
	if pr.Mem != "" {
		f, err := os.Create(pr.Mem)
		if err != nil {
			return err
		}
		runtime.GC()
		if err := pprof.WriteHeapProfile(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return nil
}
