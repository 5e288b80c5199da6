package cli

// Issue 7: one run per tenant (a lock), resuming an interrupted run, and the
// per-tenant progress file. drive() calls beginRun before the engine starts,
// wraps the line/JSON reporter with runGuard.reporter (which saves progress
// after every step change) and ends with runGuard.finish.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"itdr-onboard/auth"
	"itdr-onboard/state"
	"itdr-onboard/steps"
	"itdr-onboard/ui/plain"
	"itdr-onboard/ui/text"
	"itdr-onboard/ui/tui"
)

// runGuard is one run's lock and progress bookkeeping. Every method except
// beginRun runs on the front-end's goroutine (the one that owns the engine).
type runGuard struct {
	ctx    context.Context
	cancel context.CancelFunc
	io     IO
	mode   string
	color  bool // colours on the resume screen
	store  state.Store
	log    *runLog
	now    func() time.Time

	// key is the tenant id known before sign-in ("" = learn it from the token).
	key  string
	lock *state.Lock
	// stopCode overrides the exit code (3 when the lock is held).
	stopCode int
	// dry: a --dry-run writes nothing to disk (no lock, no progress).
	dry bool
	// command is recorded in the lock so a refused run names its holder
	// ("onboard" when empty).
	command string

	// onboarding names the onboarding a resumed run continues; rec is the record.
	onboarding string
	rec        *steps.Receipts

	prog     state.Progress
	lastSave []byte
	timing   map[steps.ID]*state.StepTiming

	// w writes the progress file off the front-end's goroutine; nameGen
	// is its snapshot that first named the record (rg.prog.Onboarding
	// was named in), which a write waits for (BeforeWrites).
	w       *progressWriter
	named   string
	nameGen int
}

// sshHint suggests tmux/screen when the run is over SSH without either.
func sshHint(io IO) {
	if io.Env("SSH_CONNECTION") != "" && io.Env("TMUX") == "" && io.Env("STY") == "" {
		fmt.Fprintln(io.Err, "tip: you are connected over SSH; run itdr-onboard inside tmux or screen so a dropped connection cannot stop it (an interrupted run resumes with the same command).")
	}
}

// beginRun prints the SSH hint, takes the tenant's lock when the tenant is
// known, and offers to resume an unfinished run (filling opt.Org from it).
// It returns nil and an exit code when the run must not start.
func beginRun(ctx context.Context, g *globalFlags, io IO, w *wiring, opt *steps.Options, stateDir string, log *runLog) (*runGuard, int) {
	rg := &runGuard{io: io, mode: g.frontEnd(io), color: g.color(io), store: state.Store{Dir: stateDir}, log: log, now: time.Now,
		timing: map[steps.ID]*state.StepTiming{}, dry: opt.DryRun}
	if rg.dry {
		// A dry run reads the state dir (an unfinished run's organization)
		// but creates, locks and saves nothing.
		if st, err := os.Stat(stateDir); err == nil && !st.IsDir() {
			fmt.Fprintln(io.Err, "error:", text.Line(fmt.Sprintf("--state-dir %s: not a directory", stateDir)))
			return nil, ExitUsage
		}
	} else if err := ensureStateDir(stateDir); err != nil {
		fmt.Fprintln(io.Err, "error:", text.Line(err.Error()))
		return nil, ExitUsage
	}
	rg.ctx, rg.cancel = context.WithCancel(ctx)
	sshHint(io)

	// The tenant: the demo's simulated tenant, --tenant as a GUID, a domain
	// found in a progress file, or a domain resolved through the tenant's
	// public metadata. Otherwise the lock is taken after sign-in.
	var prev *state.Progress
	switch t := opt.Tenant; {
	case w.tenantHint != "" && (t == "" || strings.EqualFold(t, w.tenantHint)):
		rg.key = strings.ToLower(w.tenantHint)
	case t == "" || strings.EqualFold(t, "organizations"):
	case auth.IsGUID(t):
		rg.key = strings.ToLower(t)
	default:
		if p, err := rg.store.FindProgress(t); err == nil && p != nil {
			rg.key, prev = p.TenantID, p
		} else if w.hc != nil {
			rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			info, err := auth.ResolveTenant(rctx, w.hc, w.ep, t)
			cancel()
			if err == nil && info.ID != "" {
				rg.key = strings.ToLower(info.ID)
			}
		}
	}
	if rg.key == "" {
		return rg, 0
	}
	if rg.dry {
		if p, err := rg.store.LoadProgress(rg.key); err == nil && p != nil && !p.Finished && opt.Org == "" && p.OrganizationID != "" {
			opt.Org = p.OrganizationID // the plan names the organization the unfinished run chose
		}
		return rg, 0
	}
	if code, ok := rg.takeLock(rg.key); !ok {
		rg.cancel()
		return nil, code
	}
	if prev == nil {
		p, err := rg.store.LoadProgress(rg.key)
		if err != nil {
			fmt.Fprintln(io.Err, "warning: ignoring the saved progress:", text.Line(err.Error()))
		}
		prev = p
	}
	rg.prog = state.Progress{TenantID: rg.key, TenantArg: opt.Tenant, StartedAt: rg.now().UTC()}
	if prev != nil && !prev.Finished {
		if rg.offerResume(opt, prev) {
			from := prev.UpdatedAt
			rg.prog.ResumedFrom = &from
			rg.onboarding, rg.prog.Onboarding = prev.Onboarding, prev.Onboarding
			rg.prog.Domains, rg.prog.TenantName = prev.Domains, prev.TenantName
		}
	}
	rg.save()
	rg.flush()
	return rg, 0
}

// takeLock takes the tenant's lock; on failure it reports the holder and
// returns exit code 3.
func (rg *runGuard) takeLock(tenantID string) (int, bool) {
	command := rg.command
	if command == "" {
		command = "onboard"
	}
	l, err := rg.store.AcquireLockFor(tenantID, command, rg.now())
	if err != nil {
		var he *state.HeldError
		msg := "could not lock the tenant: " + err.Error()
		if errors.As(err, &he) {
			msg = he.Error()
		}
		rg.log.Warn("lock", "tenant_id", tenantID, "error", msg)
		fmt.Fprintln(rg.io.Err, "error:", text.Line(msg))
		if rg.mode == "json" {
			rg.emitJSON("finished", map[string]any{"exit_code": ExitStopped, "tenant_id": tenantID, "outcome": "stopped", "error": msg})
		}
		return ExitStopped, false
	}
	rg.lock = l
	if l.TookOver != nil {
		rg.log.Info("lock", "tenant_id", tenantID, "took_over_pid", l.TookOver.PID)
		why := l.TookOverWhy
		if why == "" {
			why = "is no longer running"
		}
		fmt.Fprintf(rg.io.Err, "note: took over the lock of an earlier run that %s (%s; lock file %s)\n", why, l.TookOver, l.Path)
	}
	return 0, true
}

// offerResume asks (or decides by --yes) whether to resume prev; resuming
// re-runs every step with the saved choices (each step re-checks before it
// writes, so nothing is applied twice).
func (rg *runGuard) offerResume(opt *steps.Options, prev *state.Progress) bool {
	who := opt.Tenant
	if who == "" || strings.EqualFold(who, prev.TenantID) {
		who = prev.TenantID
		if prev.TenantName != "" {
			who = prev.TenantName + " (" + prev.TenantID + ")"
		}
	}
	last := prev.LastCompleted()
	if last == "" {
		last = "none"
	}
	at := text.When(prev.UpdatedAt.Local(), "2006-01-02 15:04:05")
	resume := opt.Yes
	if !resume && rg.mode == "tui" {
		// The TUI asks on a screen of its own: what was done, what will
		// happen (issue 18).
		info := tui.ResumeInfo{Tenant: who, From: at, Done: stepTitles(prev.Completed), Stopped: stepTitle(prev.Current),
			Changes: prev.AppliedChanges, Organization: prev.OrganizationName}
		switch a := tui.AskResume(rg.ctx, rg.io.In, rg.io.Out, !rg.color, info); a {
		case tui.ResumeYes:
			resume = true
		case tui.ResumeNo:
			fmt.Fprintln(rg.io.Out, tui.ResumeSummary(a, info))
			return false
		default:
			rg.cancel() // quit: the run ends with 130 at once
			return false
		}
	}
	if !resume {
		if !rg.io.IsTTY || rg.mode == "json" {
			fmt.Fprintf(rg.io.Err, "note: an unfinished onboarding of %s from %s was found (last completed: %s); pass --yes to resume it.\n",
				text.Line(who), at, last)
			return false
		}
		fmt.Fprintf(rg.io.Out, "An unfinished onboarding of %s from %s was found (last completed: %s). Resume it? [y/N] ",
			text.Line(who), at, last)
		line, ok := readLineCtx(rg.ctx, rg.io.In)
		if !ok {
			return false // interrupted: the run ends with 130 at once
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			resume = true
		default:
			fmt.Fprintln(rg.io.Out, "Starting over.")
			return false
		}
	}
	if opt.Org == "" && prev.OrganizationID != "" {
		opt.Org = prev.OrganizationID
	}
	rg.log.Info("resume", "tenant_id", prev.TenantID, "from", prev.UpdatedAt, "last_completed", prev.LastCompleted(), "organization_id", prev.OrganizationID)
	msg := fmt.Sprintf("Resuming the onboarding of %s from %s (last completed: %s)", text.Line(who), at, last)
	if prev.OrganizationName != "" {
		msg += "; organization: " + text.Line(prev.OrganizationName)
	}
	switch rg.mode {
	case "json":
		rg.emitJSON("resume", map[string]any{"tenant_id": prev.TenantID, "from": prev.UpdatedAt.UTC().Format(time.RFC3339Nano),
			"last_completed": prev.LastCompleted(), "completed_steps": prev.Completed, "organization_id": prev.OrganizationID,
			"organization": prev.OrganizationName, "integration_id": prev.IntegrationID})
	default:
		fmt.Fprintln(rg.io.Out, msg+".")
	}
	return resume
}

func (rg *runGuard) emitJSON(typ string, f map[string]any) {
	m := map[string]any{"time": rg.now().UTC().Format(time.RFC3339Nano), "step": "", "type": typ}
	for k, v := range f {
		m[k] = v
	}
	b, _ := text.Marshal(m)
	rg.io.Out.Write(append(b, '\n'))
}

// observe folds the engine's state into the progress file and, when the
// tenant only became known at sign-in, takes the lock then.
func (rg *runGuard) observe(e *steps.Engine) { rg.fold(e, true) }

// fold is observe; mayStop=false (the end of a run) never takes a lock late
// and never stops anything.
func (rg *runGuard) fold(e *steps.Engine, mayStop bool) {
	if rg == nil || rg.stopCode != 0 || rg.dry {
		return
	}
	s := e.Session()
	tid := strings.ToLower(s.TenantID)
	if tid == "" {
		tid = rg.key
	}
	now := rg.now().UTC()
	for _, st := range e.Steps() {
		id := st.ID()
		status := st.Status()
		tm := rg.timing[id]
		if tm == nil {
			if status == steps.StatusPending {
				continue
			}
			tm = &state.StepTiming{ID: string(id), StartedAt: now}
			rg.timing[id] = tm
		}
		tm.Status = string(status)
		if status.Terminal() && tm.EndedAt.IsZero() {
			tm.EndedAt = now
		}
	}
	if tid == "" {
		return
	}
	if rg.lock == nil {
		if !mayStop {
			return // the run is over; another run may own the tenant's files now
		}
		if code, ok := rg.takeLock(tid); !ok {
			// Another run owns this tenant: stop before anything is changed.
			rg.stopCode = code
			rg.cancel()
			return
		}
	}
	p := &rg.prog
	p.TenantID = tid
	if s.Org.DisplayName != "" {
		p.TenantName = s.Org.DisplayName
	}
	if len(s.Org.VerifiedDomains) > 0 {
		p.Domains = p.Domains[:0]
		for _, d := range s.Org.VerifiedDomains {
			p.Domains = append(p.Domains, d.Name)
		}
	}
	if s.TenantCloud != "" {
		p.Cloud = s.TenantCloud
	}
	if s.Account.Username != "" {
		p.Account = s.Account.Username
	}
	if s.Organization.ID != "" {
		p.OrganizationID, p.OrganizationName = s.Organization.ID, s.Organization.Name
	}
	if s.Integration.ID != "" {
		p.IntegrationID = s.Integration.ID
	}
	if rg.rec != nil {
		if n := rg.rec.Name(); n != "" {
			p.Onboarding = n
		}
	}
	p.AppliedChanges = p.AppliedChanges[:0]
	for _, a := range s.Changes() {
		if !slices.Contains(p.AppliedChanges, a.Change.ID) {
			p.AppliedChanges = append(p.AppliedChanges, a.Change.ID)
		}
	}
	p.Completed = p.Completed[:0]
	p.Steps = p.Steps[:0]
	for _, st := range e.Steps() {
		if st.Status() == steps.StatusDone || st.Status() == steps.StatusSkipped {
			p.Completed = append(p.Completed, string(st.ID()))
		}
		if tm := rg.timing[st.ID()]; tm != nil {
			p.Steps = append(p.Steps, *tm)
		}
	}
	p.Current = string(e.Current().ID())
	rg.save()
}

// save hands the progress to the writer when it changed (ignoring the time
// stamp). It does not wait for the disk: flush and BeforeWrites do.
func (rg *runGuard) save() {
	if rg.prog.TenantID == "" {
		return
	}
	p := rg.prog
	p.UpdatedAt = time.Time{}
	b, _ := text.Marshal(p)
	if string(b) == string(rg.lastSave) {
		return
	}
	rg.prog.UpdatedAt = rg.now().UTC()
	file, err := state.EncodeProgress(&rg.prog)
	if err != nil {
		rg.log.Warn("progress", "error", err.Error())
		return
	}
	if rg.w == nil {
		rg.w = newProgressWriter(rg.store, rg.log)
	}
	named := rg.prog.Onboarding != rg.named
	gen := rg.w.submit(rg.prog.TenantID, file, named)
	if named {
		rg.named, rg.nameGen = rg.prog.Onboarding, gen
	}
	rg.lastSave = b
}

// flush waits until every progress handed to the writer is on disk.
func (rg *runGuard) flush() {
	if rg != nil && rg.w != nil {
		rg.w.waitAll()
	}
}

// beforeWrites returns once the progress file on disk names the
// onboarding's record: a run killed during a write is then resumed into the
// same record, so its receipt names the change once. The record is named
// before the first write (Receipts.NameNow) and its name handed to the
// writer without waiting, as the first write has always been sent before
// the progress named it; while it is in flight the name reaches the disk,
// so the next writes seldom wait.
func (rg *runGuard) beforeWrites(e *steps.Engine) {
	if rg == nil || rg.dry || rg.stopCode != 0 || rg.rec == nil {
		return
	}
	first := rg.rec.Name() == ""
	if first {
		if _, err := rg.rec.NameNow(e.Session()); err != nil {
			return // the write's own record fails it and says why
		}
	}
	rg.fold(e, true)
	if !first && rg.w != nil && rg.named != "" {
		rg.w.wait(rg.nameGen)
	}
}

// finish records how the run ended and returns the exit code.
func (rg *runGuard) finish(e *steps.Engine, code int) int {
	if rg == nil {
		return code
	}
	if rg.stopCode != 0 {
		return rg.stopCode
	}
	if f := e.Failure(); f != nil {
		rg.log.Warn("step_failed", "step", string(e.Current().ID()), "error", f.Message, "exit_code", code)
	}
	rg.fold(e, false)
	if rg.lock == nil {
		return code
	}
	c := code
	rg.prog.ExitCode = &c
	rg.prog.Outcome = e.Session().Outcome
	// A dry run changes nothing, so an earlier unfinished run stays resumable.
	rg.prog.Finished = code == 0 && rg.prog.Outcome != "dry-run"
	rg.save()
	rg.flush()
	return code
}

// release lets go of the lock.
func (rg *runGuard) release() {
	if rg == nil {
		return
	}
	rg.flush() // the progress is written under the lock
	if rg.lock != nil {
		if err := rg.lock.Release(); err != nil {
			rg.log.Warn("lock", "error", err.Error())
		}
	}
	rg.cancel()
}

// reporter wraps a front-end reporter so progress is saved after every
// step change and outcome.
func (rg *runGuard) reporter(inner plain.Reporter) plain.Reporter {
	return &guardReporter{inner: inner, rg: rg}
}

type guardReporter struct {
	inner plain.Reporter
	rg    *runGuard
}

func (r *guardReporter) StepStarted(e *steps.Engine, st steps.Step) {
	r.rg.observe(e)
	r.inner.StepStarted(e, st)
}

func (r *guardReporter) Outcome(e *steps.Engine, id steps.ID, ev steps.Event) {
	r.rg.observe(e)
	r.inner.Outcome(e, id, ev)
}

func (r *guardReporter) Answered(e *steps.Engine, q steps.Question, v string, auto bool) {
	r.rg.observe(e)
	r.inner.Answered(e, q, v, auto)
}

// BeforeWrites implements plain.WriteGate.
func (r *guardReporter) BeforeWrites(e *steps.Engine) { r.rg.beforeWrites(e) }

func (r *guardReporter) Finished(e *steps.Engine, code int, err error) {
	if r.rg.stopCode != 0 {
		code = r.rg.stopCode
		err = errors.New("another run holds this tenant's lock")
	}
	r.inner.Finished(e, code, err)
}

// readRawLine reads one line a byte at a time, so nothing after it is
// buffered away from the front-end's own reader.
// readLineCtx is readRawLine that gives up when ctx ends (ctrl+c): ok is
// false then. The reading goroutine stays blocked on the terminal until the
// process exits, which it is about to.
func readLineCtx(ctx context.Context, r io.Reader) (string, bool) {
	ch := make(chan string, 1)
	go func() { ch <- readRawLine(r) }()
	select {
	case l := <-ch:
		return l, true
	case <-ctx.Done():
		return "", false
	}
}

func readRawLine(r io.Reader) string {
	var b strings.Builder
	var c [1]byte
	for b.Len() < 256 {
		n, err := r.Read(c[:])
		if n == 1 {
			if c[0] == '\n' {
				break
			}
			b.WriteByte(c[0])
		}
		if err != nil {
			break
		}
	}
	return b.String()
}

// ensureStateDir checks (and creates, mode 0700) the state dir, naming the
// flag when it cannot be used.
func ensureStateDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		return fmt.Errorf("--state-dir %s: not a directory", dir)
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("--state-dir %s: %v", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("--state-dir %s: cannot create it: %v", dir, err)
	}
	return nil
}

// stepTitle is a step's title for the resume screen ("" stays "").
func stepTitle(id string) string {
	switch steps.ID(id) {
	case steps.Prereqs:
		return "Prerequisites"
	case steps.SignIn:
		return "Sign-in"
	case steps.Roles:
		return "Role fixes"
	case steps.Mapping:
		return "Mapping"
	case steps.Health:
		return "Health"
	}
	return id
}

func stepTitles(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, stepTitle(id))
	}
	return out
}
