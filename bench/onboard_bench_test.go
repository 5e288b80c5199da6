package main

import (
	"context"
	"flag"
	"testing"
	"time"
)

var benchLatency = flag.Duration("onboard.latency", 40*time.Millisecond, "latency of the simulator in BenchmarkOnboarding*")

// BenchmarkOnboardingInProcess runs row 3's in-process onboarding (cli.Run
// against the typical scenario), for CPU and heap profiles:
//
//	go test ./bench -run '^$' -bench OnboardingInProcess -benchtime 10x -cpuprofile cpu.out
func BenchmarkOnboardingInProcess(b *testing.B) {
	installSniffer.Do(theSniffer.install)
	for i := 0; i < b.N; i++ {
		if _, err := inProcessRun(context.Background(), theSniffer, b.TempDir(), *benchLatency); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOnboardingProcess runs the built wizard as a subprocess and
// reports its CPU (user + system, from the child's rusage) per onboarding:
// robust to a busy machine, unlike wall time.
//
//	go test ./bench -run '^$' -bench OnboardingProcess -benchtime 6x
func BenchmarkOnboardingProcess(b *testing.B) {
	root, err := repoRoot()
	if err != nil {
		b.Fatal(err)
	}
	bin, err := buildBinary(root, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		r, err := subprocessRun(context.Background(), bin, b.TempDir(), *benchLatency)
		if err != nil {
			b.Fatal(err)
		}
		cpu += r.CPU
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}
