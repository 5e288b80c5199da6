package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
	"itdr-onboard/cli"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
	"itdr-onboard/sim"
)

const orgName = "Contoso Ltd"

// onboardArgs is the non-interactive onboarding every run uses.
func onboardArgs(epFile, stateDir string, extra ...string) []string {
	return append([]string{"onboard", "--endpoints", epFile, "--state-dir", stateDir,
		"--auth", "device", "--yes", "--org", orgName, "--poll-base", "50ms"}, extra...)
}

// run is one onboarding: what the wizard printed and what the simulator saw.
type run struct {
	Start  time.Time
	Wall   time.Duration
	Exit   int
	Events []event
	Recs   []sim.RequestRecord
	Reqs   []sniffed   // in-process runs only
	Dials  []time.Time // in-process runs only
	Stderr string
	// CPU is the wizard's user + system time (subprocess runs only).
	CPU time.Duration
}

// inProcessRun runs the real CLI (cli.Run) in this process against a fresh
// simulator, observing its requests with the sniffer.
func inProcessRun(ctx context.Context, sn *sniffer, tmp string, latency time.Duration) (*run, error) {
	env, err := startScenario("typical", tmp, latency, 0)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	sn.reset()
	var out, errb bytes.Buffer
	io := cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Env: func(string) string { return "" }}
	r := &run{Start: time.Now()}
	r.Exit = cli.Run(ctx, onboardArgs(env.epFile, filepath.Join(env.dir, "state"), "--json"), io)
	r.Wall = time.Since(r.Start)
	r.Recs = env.srv.Requests()
	r.Reqs = sn.requests()
	sort.SliceStable(r.Reqs, func(i, j int) bool { return r.Reqs[i].At.Before(r.Reqs[j].At) })
	r.Dials = sn.handshakes()
	r.Stderr = errb.String()
	r.Events, err = parseEvents(&out)
	if err != nil {
		return r, err
	}
	if r.Exit != 0 {
		return r, fmt.Errorf("in-process onboarding exited %d: %s", r.Exit, strings.TrimSpace(r.Stderr))
	}
	return r, nil
}

// subprocessRun runs the built binary with --json against a fresh
// simulator. Start is taken just before the process is started.
func subprocessRun(ctx context.Context, bin, tmp string, latency time.Duration) (*run, error) {
	env, err := startScenario("typical", tmp, latency, 0)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	cmd := exec.CommandContext(ctx, bin, onboardArgs(env.epFile, filepath.Join(env.dir, "state"), "--json")...)
	cmd.Env = cleanEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	r := &run{Start: time.Now()}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	io.Copy(&out, stdout)
	werr := cmd.Wait()
	r.Wall = time.Since(r.Start)
	r.Exit = cmd.ProcessState.ExitCode()
	r.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	r.Recs = env.srv.Requests()
	r.Stderr = errb.String()
	r.Events, err = parseEvents(&out)
	if err != nil {
		return r, err
	}
	if werr != nil {
		return r, fmt.Errorf("%s exited %d: %s", filepath.Base(bin), r.Exit, strings.TrimSpace(r.Stderr))
	}
	return r, nil
}

// cleanEnv is the environment of the wizard's subprocesses: no display
// (device code is forced anyway), no colour settings that change output.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "DISPLAY", "WAYLAND_DISPLAY", "NO_COLOR", "ITDR_API_KEY", "ITDR_API_SECRET", "SSH_CONNECTION", "SSH_TTY":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// checkInfo is the static description of a registered check.
type checkInfo struct {
	ID    string
	Step  checks.StepID
	Phase checks.Phase
}

func registeredChecks() []checkInfo {
	var out []checkInfo
	for _, c := range checks.Builtin(checks.Deps{}) {
		out = append(out, checkInfo{ID: c.ID(), Step: c.Step(), Phase: c.Phase()})
	}
	return out
}

// aloneResult is one check run by itself.
type aloneResult struct {
	ID       string
	Phase    checks.Phase
	Wall     time.Duration
	Requests int
	Chain    int
	Outcome  checks.Outcome
}

// runChecksAlone runs every prerequisite check on its own, one after
// another, with the real clients against one simulator. Tenant checks get a
// fresh sign-in each (so each pays for its own Exchange token, as the first
// Exchange check of the wizard does); the sign-in's requests are outside
// the measured window.
func runChecksAlone(ctx context.Context, tmp string, latency time.Duration) ([]aloneResult, error) {
	env, err := startScenario("typical", tmp, latency, 0)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	ep := env.srv.Endpoints()
	var out []aloneResult
	for _, info := range registeredChecks() {
		if info.Step != checks.StepPrereqs {
			continue
		}
		hc := ep.HTTPClient()
		deps := checks.Deps{Endpoints: ep, HTTP: hc,
			Platform: platform.New(hc, ep.Platform, ep.PlatformAPIKey, ep.PlatformAPISecret)}
		if info.Phase == checks.Tenant {
			ac, err := auth.New(auth.Options{Endpoints: ep, HTTPClient: hc, StateDir: env.dir})
			if err != nil {
				return nil, err
			}
			dc, err := ac.StartDeviceCode(ctx)
			if err != nil {
				return nil, fmt.Errorf("sign-in for %s: %w", info.ID, err)
			}
			acct, err := ac.AwaitDeviceCode(ctx, dc)
			if err != nil {
				return nil, fmt.Errorf("sign-in for %s: %w", info.ID, err)
			}
			deps.Graph = m365.NewGraph(hc, ep.Graph, ac.GraphToken)
			deps.Exchange = m365.NewExchange(hc, ep.Exchange, acct.TenantID, acct.Username, ac.ExchangeToken)
		}
		var c checks.Check
		for _, x := range checks.Builtin(deps) {
			if x.ID() == info.ID {
				c = x
			}
		}
		n0 := len(env.srv.Requests())
		t0 := time.Now()
		res := checks.RunSafe(ctx, c, 0)
		wall := time.Since(t0)
		recs := env.srv.Requests()[n0:]
		out = append(out, aloneResult{ID: info.ID, Phase: info.Phase, Wall: wall, Requests: len(recs),
			Chain: len(chain(spansOf(recs))), Outcome: res.Outcome})
		hc.CloseIdleConnections()
	}
	return out, nil
}

// ptyOutput collects what a process writes to its terminal, with the time
// of each read.
type ptyOutput struct {
	mu     sync.Mutex
	chunks []timedChunk
	buf    bytes.Buffer
}

type timedChunk struct {
	at time.Time
	n  int
}

func (p *ptyOutput) drain(r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	b := make([]byte, 32<<10)
	for {
		n, err := br.Read(b)
		if n > 0 {
			p.mu.Lock()
			p.chunks = append(p.chunks, timedChunk{time.Now(), n})
			p.buf.Write(b[:n])
			p.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// bytesBetween counts the bytes and the reads in [from, to).
func (p *ptyOutput) bytesBetween(from, to time.Time) (n, reads int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.chunks {
		if !c.at.Before(from) && c.at.Before(to) {
			n += c.n
			reads++
		}
	}
	return n, reads
}

func (p *ptyOutput) contains(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Contains(p.buf.Bytes(), []byte(s))
}

func (p *ptyOutput) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buf.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// cpuNote is row 3's note on the wizard's own CPU per onboarding (user +
// system time of the subprocess runs, from their rusage): unlike wall time
// it hardly moves with the machine's load.
func cpuNote(subs []*run) string {
	var cpu []time.Duration
	for _, r := range subs {
		if r.CPU > 0 {
			cpu = append(cpu, r.CPU)
		}
	}
	if len(cpu) == 0 {
		return "row 3: CPU per onboarding not measured (no subprocess run)"
	}
	return fmt.Sprintf("row 3: the wizard's CPU per onboarding (user + system of the %d row-1 subprocess runs, each a full onboarding): median %s (%s).",
		len(cpu), ms(median(cpu)), spread(cpu))
}
