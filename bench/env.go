package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"itdr-onboard/sim"
)

// benchScenario loads a built-in scenario and makes it fast except for the
// injected per-request latency: approval at once, healthy right after
// mapping (unless healthyAfter says otherwise), one latency fault on every
// endpoint group.
func benchScenario(name string, latency, healthyAfter time.Duration) (*sim.Scenario, error) {
	sc, err := sim.LoadScenario(name)
	if err != nil {
		return nil, err
	}
	sc.SignIn.ApproveDelay = 0
	sc.SignIn.AutoApprove = nil
	if healthyAfter <= 0 {
		// 0 means the simulator's 5 s default; 1 ms is "at once": every
		// request already waits the injected latency.
		healthyAfter = time.Millisecond
	}
	sc.Platform.HealthyAfter = sim.Duration(healthyAfter)
	if latency > 0 {
		sc.Faults = append(sc.Faults, sim.FaultSpec{Kind: sim.FaultLatency, Latency: sim.Duration(latency)})
	}
	return sc, nil
}

// simEnv is one running simulator plus its endpoints file.
type simEnv struct {
	srv     *sim.Server
	epFile  string
	dir     string
	latency time.Duration
}

func startSim(sc *sim.Scenario, dir string, latency time.Duration) (*simEnv, error) {
	srv, err := sim.Start(sc, sim.Options{})
	if err != nil {
		return nil, err
	}
	theSniffer.trust(srv.Endpoints().CACertPEM)
	d, err := os.MkdirTemp(dir, "sim-")
	if err != nil {
		srv.Close()
		return nil, err
	}
	ep := filepath.Join(d, "endpoints.json")
	if err := srv.Endpoints().Save(ep); err != nil {
		srv.Close()
		return nil, err
	}
	return &simEnv{srv: srv, epFile: ep, dir: d, latency: latency}, nil
}

func (e *simEnv) Close() { e.srv.Close() }

// startScenario starts a simulator on benchScenario(name, latency,
// healthyAfter), its files in a new directory under dir.
func startScenario(name, dir string, latency, healthyAfter time.Duration) (*simEnv, error) {
	sc, err := benchScenario(name, latency, healthyAfter)
	if err != nil {
		return nil, err
	}
	return startSim(sc, dir, latency)
}

// repoRoot walks up from the working directory to the go.mod of module
// itdr-onboard.
func repoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.HasPrefix(strings.TrimSpace(string(b)), "module itdr-onboard") {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("not inside the itdr-onboard module: run `go run ./bench` from the repository")
		}
		d = parent
	}
}

// buildBinary builds the wizard once into dir (with the build tags given),
// as it is released (README.md: `CGO_ENABLED=0 go build`, a static binary).
func buildBinary(root, dir string, tags ...string) (string, error) {
	return goBuild(root, filepath.Join(dir, "itdr-onboard"), ".", tags...)
}

// buildFloor builds bench/startfloor (row 1c) into dir, the same way.
func buildFloor(root, dir string) (string, error) {
	return goBuild(root, filepath.Join(dir, "startfloor"), "./bench/startfloor")
}

// goBuild builds pkg the way the wizard is released: without cgo, so the
// binary is static (no dynamic loader, no glibc; on this machine such a
// process reaches its first request sooner, docs/benchmarks.md row 1).
func goBuild(root, out, pkg string, tags ...string) (string, error) {
	args := []string{"build", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = root
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build: %w", err)
	}
	return out, nil
}

// machine describes where the benchmark ran.
type machine struct {
	CPU   string
	Cores int
	Go    string
	OS    string
}

func (m machine) String() string {
	return fmt.Sprintf("%s, %d cores, %s, %s", m.CPU, m.Cores, m.Go, m.OS)
}

func thisMachine() machine {
	m := machine{CPU: "unknown CPU", Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}
