package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/creack/pty"

	"itdr-onboard/sim"
)

// tuiProc is the wizard running under a pseudo-terminal.
type tuiProc struct {
	cmd  *exec.Cmd
	tty  *os.File
	out  *ptyOutput
	done chan struct{}
	env  *simEnv
	hwm  int64 // KiB, highest VmHWM seen
}

// startTUI starts the binary under a 120×40 pseudo-terminal, so the CLI
// picks its terminal front-end.
func startTUI(bin string, env *simEnv, extra ...string) (*tuiProc, error) {
	args := []string{"onboard", "--endpoints", env.epFile, "--state-dir", filepath.Join(env.dir, "state"),
		"--auth", "device", "--yes", "--org", orgName}
	cmd := exec.Command(bin, append(args, extra...)...)
	cmd.Env = append(cleanEnv(), "TERM=xterm-256color", "COLORTERM=truecolor")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		return nil, err
	}
	p := &tuiProc{cmd: cmd, tty: tty, out: &ptyOutput{}, done: make(chan struct{}), env: env}
	go p.out.drain(tty)
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *tuiProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// sampleHWM records the highest VmHWM seen so far.
func (p *tuiProc) sampleHWM() {
	if kb, err := procStatusKB(p.cmd.Process.Pid, "VmHWM"); err == nil && kb > p.hwm {
		p.hwm = kb
	}
}

// peakKB is the process's peak resident set: the highest VmHWM sampled
// while it ran. Not the rusage maxrss after exit: on Linux exec records the
// old address space's high-water mark in the child's maxrss, and Go starts
// children with CLONE_VM, so that figure is at least the bench's own peak
// (a batch row after the 200,000-organization rows read 216 MB that way).
func (p *tuiProc) peakKB() int64 {
	p.sampleHWM()
	return p.hwm
}

// stop asks the TUI to quit (q, then ctrl+c), then kills it.
func (p *tuiProc) stop() {
	defer p.tty.Close()
	for _, key := range []string{"q", "\x03"} {
		if p.exited() {
			return
		}
		p.tty.Write([]byte(key))
		select {
		case <-p.done:
			return
		case <-time.After(2 * time.Second):
		}
	}
	if !p.exited() {
		p.cmd.Process.Kill()
		<-p.done
	}
}

// isTUI reports whether the output is a full-screen terminal UI (it hides
// the cursor or switches to the alternate screen) rather than the line
// front-end.
func (p *tuiProc) isTUI() bool {
	return p.out.contains("\x1b[?25l") || p.out.contains("\x1b[?1049h")
}

// waitHealthProbe waits until the simulator has answered the first health
// probe (GET /platform/v1/integrations/{id}) and returns when it ended.
func waitHealthProbe(ctx context.Context, p *tuiProc, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, r := range p.env.srv.Requests() {
			if r.Method == "GET" && strings.HasPrefix(r.Path, "/platform/v1/integrations/") {
				return r.Time.Add(time.Duration(r.LatencyMS * float64(time.Millisecond))), nil
			}
		}
		if p.exited() {
			return time.Time{}, errors.New("the wizard exited before the health wait")
		}
		p.sampleHWM()
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return time.Time{}, fmt.Errorf("no health probe within %s", timeout)
}

// cpuTicks is utime+stime of a process (all its threads) in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces: split after ")".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc stat format")
	}
	f := strings.Fields(s[i+1:])
	// After ")": state is field 3, so utime (14) and stime (15) are f[11], f[12].
	if len(f) < 13 {
		return 0, errors.New("unexpected /proc stat format")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unexpected /proc stat format")
	}
	return u + st, nil
}

// clockTick is USER_HZ, 100 on every Linux the bench runs on.
const clockTick = 10 * time.Millisecond

// procStatusKB reads one "Name:  N kB" line of /proc/PID/status.
func procStatusKB(pid int, name string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == name {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s not in /proc/%d/status", name, pid)
}

// idleResult is the idle health wait measurement.
type idleResult struct {
	Window   time.Duration
	CPU      time.Duration
	Bytes    int
	Writes   int // terminal reads that returned data: about one per redraw
	NotTUI   bool
	TailText string
}

// measureIdle runs the TUI with a health that stays pending and measures
// CPU time and terminal bytes over window, starting settle after the first
// health probe answered (the one-time switch to the health screen is not
// part of the wait).
func measureIdle(ctx context.Context, bin, tmp string, latency, window time.Duration) (*idleResult, error) {
	env, err := startScenario("slow-health", tmp, latency, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	p, err := startTUI(bin, env)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	probed, err := waitHealthProbe(ctx, p, 60*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w; terminal showed: %q", err, lastLine(p.out.tail(400)))
	}
	const settle = time.Second
	time.Sleep(time.Until(probed.Add(settle)))
	res := &idleResult{Window: window}
	if !p.isTUI() {
		res.NotTUI = true
		res.TailText = lastLine(p.out.tail(400))
		return res, nil
	}
	pid := p.cmd.Process.Pid
	t0 := time.Now()
	c0, err := cpuTicks(pid)
	if err != nil {
		return nil, err
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.done:
		return nil, errors.New("the wizard exited during the health wait")
	case <-time.After(window):
	}
	c1, err := cpuTicks(pid)
	t1 := time.Now()
	if err != nil {
		return nil, err
	}
	res.Window = t1.Sub(t0)
	res.CPU = time.Duration(c1-c0) * clockTick
	res.Bytes, res.Writes = p.out.bytesBetween(t0, t1)
	return res, nil
}

// rssResult is the peak memory of a full TUI run.
type rssResult struct {
	PeakKB int64
	NotTUI bool
	Tail   string
}

// measureRSS runs a full onboarding in the TUI (typical scenario, healthy
// at once) and reports the process's peak resident set.
func measureRSS(ctx context.Context, bin, tmp string, latency time.Duration) (*rssResult, error) {
	env, err := startScenario("typical", tmp, latency, 0)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	p, err := startTUI(bin, env, "--poll-base", "50ms")
	if err != nil {
		return nil, err
	}
	if _, err := waitHealthProbe(ctx, p, 60*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("%w; terminal showed: %q", err, lastLine(p.out.tail(400)))
	}
	// Let the run finish (summary, receipt, final screen), sampling VmHWM.
	deadline := time.Now().Add(5 * time.Second)
	for !p.exited() && time.Now().Before(deadline) && !integrationHealthyAndQuiet(p) {
		p.sampleHWM()
		time.Sleep(20 * time.Millisecond)
	}
	p.sampleHWM()
	res := &rssResult{NotTUI: !p.isTUI(), Tail: lastLine(p.out.tail(400))}
	p.stop()
	res.PeakKB = p.peakKB()
	return res, nil
}

// integrationHealthyAndQuiet: the simulator reports the integration
// healthy and the terminal has been quiet for half a second.
func integrationHealthyAndQuiet(p *tuiProc) bool {
	healthy := false
	for _, in := range p.env.srv.State().Snapshot().Integrations {
		if in.Status == "healthy" {
			healthy = true
		}
	}
	if !healthy {
		return false
	}
	p.out.mu.Lock()
	defer p.out.mu.Unlock()
	if n := len(p.out.chunks); n > 0 {
		return time.Since(p.out.chunks[n-1].at) > 500*time.Millisecond
	}
	return false
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

var _ = sim.GroupPlatform
