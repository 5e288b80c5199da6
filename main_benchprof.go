//go:build benchprof

package main

// A bench-only hook, compiled in only with `go build -tags benchprof`
// (`go run ./bench --batch-profile DIR` builds such a binary): with
// ITDR_BENCH_HEAPPROFILE=<path> set, every SIGUSR1 writes a heap profile of
// the live objects (after a GC) to <path>.<n> (n = 0, 1, …) and the
// runtime's memory classes now and at their peak so far to
// <path>.<n>.mem, so the bench can read what a batch retains once its
// tenants' flows have ended and what its peak was made of. Allocations are
// sampled every 16 KiB (not 512 KiB) for a finer profile. The product
// binary has neither the signal handler nor the variable.

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

func init() {
	path := os.Getenv("ITDR_BENCH_HEAPPROFILE")
	if path == "" {
		return
	}
	runtime.MemProfileRate = 16 << 10
	var mu sync.Mutex
	peak := map[string]uint64{}
	var samples []metrics.Sample
	for _, d := range metrics.All() {
		if strings.HasPrefix(d.Name, "/memory/classes/") || d.Name == "/gc/heap/goal:bytes" || d.Name == "/sched/goroutines:goroutines" {
			samples = append(samples, metrics.Sample{Name: d.Name})
		}
	}
	read := func() map[string]uint64 {
		metrics.Read(samples)
		m := map[string]uint64{}
		for _, s := range samples {
			if s.Value.Kind() == metrics.KindUint64 {
				m[s.Name] = s.Value.Uint64()
			}
		}
		return m
	}
	go func() {
		for range time.Tick(20 * time.Millisecond) {
			m := read()
			mu.Lock()
			for k, v := range m {
				peak[k] = max(peak[k], v)
			}
			// The peak of what the process holds from the OS.
			held := m["/memory/classes/total:bytes"] - m["/memory/classes/heap/released:bytes"]
			if held > peak["held"] {
				peak["held"] = held
				for k, v := range m {
					peak["at-held-peak "+k] = v
				}
			}
			mu.Unlock()
		}
	}()
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	go func() {
		for n := 0; ; n++ {
			<-ch
			runtime.GC()
			now := read()
			mu.Lock()
			var lines []string
			for k, v := range now {
				lines = append(lines, fmt.Sprintf("now  %-50s %10.1f KB", k, float64(v)/1024))
			}
			for k, v := range peak {
				lines = append(lines, fmt.Sprintf("peak %-50s %10.1f KB", k, float64(v)/1024))
			}
			mu.Unlock()
			sort.Strings(lines)
			_ = os.WriteFile(fmt.Sprintf("%s.%d.mem", path, n), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
			f, err := os.Create(fmt.Sprintf("%s.%d", path, n))
			if err != nil {
				fmt.Fprintln(os.Stderr, "benchprof:", err)
				continue
			}
			if err := pprof.WriteHeapProfile(f); err != nil {
				fmt.Fprintln(os.Stderr, "benchprof:", err)
			}
			_ = f.Close()
		}
	}()
}
