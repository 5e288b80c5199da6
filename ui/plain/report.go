package plain

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"itdr-onboard/steps"
	"itdr-onboard/ui/text"
)

// numbering numbers the steps the reader sees ("1/2"). A step that ended
// before the first heading without being shown (the Tenant step when
// --tenant is a GUID or not given: it has nothing to do) is not counted, so
// the first heading is "Step 1/N" and N counts the steps a run shows.
type numbering struct {
	once   sync.Once
	hidden map[steps.ID]bool
}

// of returns the number of step id; the first call (the first heading)
// decides which steps are hidden.
func (n *numbering) of(e *steps.Engine, id steps.ID) string {
	n.once.Do(func() {
		n.hidden = map[steps.ID]bool{}
		for _, st := range e.Steps() {
			if st.ID() == id {
				break
			}
			if s := st.Status(); s == steps.StatusDone || s == steps.StatusSkipped {
				n.hidden[st.ID()] = true
			}
		}
	})
	pos, total := 0, 0
	for _, st := range e.Steps() {
		if n.hidden[st.ID()] {
			continue
		}
		total++
		if st.ID() == id {
			pos = total
		}
	}
	if pos == 0 {
		return "?"
	}
	return fmt.Sprintf("%d/%d", pos, total)
}

func findStep(e *steps.Engine, id steps.ID) steps.Step {
	for _, st := range e.Steps() {
		if st.ID() == id {
			return st
		}
	}
	return e.Current()
}

// OutcomeWord is the word plain mode shows for a check outcome (no colour,
// no glyphs a screen reader spells out); `check` prints the same words.
func OutcomeWord(o steps.Mark) string {
	switch o {
	case steps.MarkPass:
		return "[ok]  "
	case steps.MarkWarn:
		return "[warn]"
	case steps.MarkFail:
		return "[FAIL]"
	case steps.MarkSkip:
		return "[skip]"
	}
	return "[....]"
}

// Text prints human lines.
type Text struct {
	// CanPaste says a pasted sign-in URL is read from the terminal.
	CanPaste bool
	W        io.Writer
	Now      func() time.Time
	mu       sync.Mutex
	seen     map[steps.ID]bool
	// explained holds the consent-retry phases already explained.
	explained map[string]bool
	// held are check results waiting for the checks running beside them.
	held map[string]heldRow
	// remedy is the health remedy printed last (said again only when it changes).
	remedy string
	// heading is the step whose heading was printed last.
	heading steps.ID
	ladder  ladderSeen
	// receipt is the receipt path printed last (a rewrite is not repeated).
	receipt string
	num     numbering
}

func (t *Text) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Text) printf(format string, a ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.W, format, a...)
}

// StepStarted implements Reporter.
func (t *Text) StepStarted(e *steps.Engine, st steps.Step) {
	t.mu.Lock()
	if t.seen == nil {
		t.seen = map[steps.ID]bool{}
	}
	again := t.seen[st.ID()]
	t.seen[st.ID()] = true
	t.heading = st.ID()
	t.mu.Unlock()
	switch {
	case reportOnly(e) && again:
		// Its rows are the report's, printed once at the end.
	case reportOnly(e) && st.Status() == steps.StatusPaused:
		t.printf("\n== Step %s: %s (runs in the background during %s; its results are in the report at the end)\n",
			t.num.of(e, st.ID()), st.Title(), e.Current().Title())
	case again:
		t.printf("\n== Step %s: %s (continued)\n", t.num.of(e, st.ID()), st.Title())
		t.flushHeld(e, st)
	case st.Status() == steps.StatusPaused:
		// Its work goes on while the next step runs; the rows are
		// printed under this step's "(continued)" heading.
		t.printf("\n== Step %s: %s (runs in the background during %s; its results follow when it continues)\n",
			t.num.of(e, st.ID()), st.Title(), e.Current().Title())
	default:
		t.printf("\n== Step %s: %s\n", t.num.of(e, st.ID()), st.Title())
	}
}

// flushHeld prints the rows of st held while it ran in the background,
// once none of its rows is running.
func (t *Text) flushHeld(e *steps.Engine, st steps.Step) {
	snap := st.Snapshot(e.Session())
	for _, it := range snap.Items {
		if it.Running {
			return
		}
	}
	t.printRows(e, snap, "")
}

// reportOnly says the flow's check rows are printed once, by the report
// at its end (`check`), not also as each check finishes.
func reportOnly(e *steps.Engine) bool { return e.Flow() == steps.CheckFlow.Name }

// heldRow is a check result waiting to be printed, with the step that ran
// it.
type heldRow struct {
	step steps.ID
	done steps.CheckDone
}

// printRows prints the held results of snap's rows in the step's order,
// then the held results of other checks this step ran (the role fixes
// re-check the audit-logging prerequisite after turning it on): every row
// is printed under the heading of the step that ran it.
func (t *Text) printRows(e *steps.Engine, snap steps.Snapshot, from string) {
	s := e.Session()
	row := func(id, suffix string) {
		t.mu.Lock()
		h, ok := t.held[id]
		delete(t.held, id)
		t.mu.Unlock()
		if !ok {
			return
		}
		r, mark := h.done.Result, steps.MarkOf(h.done.Result.Outcome)
		t.printf("  %s %s%s%s: %s\n", OutcomeWord(mark), from, s.Titles[id], suffix, text.Line(r.Summary))
		if mark != steps.MarkPass && r.Remedy != "" {
			t.printf("         remedy: %s\n", text.Line(r.Remedy))
		}
	}
	inItems := map[string]bool{}
	for _, it := range snap.Items {
		inItems[it.ID] = true
		row(it.ID, "")
	}
	t.mu.Lock()
	var others []string
	for id, h := range t.held {
		if h.step == snap.ID && !inItems[id] {
			others = append(others, id)
		}
	}
	t.mu.Unlock()
	sort.Strings(others)
	for _, id := range others {
		row(id, " (checked again)")
	}
}

// Outcome implements Reporter.
func (t *Text) Outcome(e *steps.Engine, id steps.ID, ev steps.Event) {
	s := e.Session()
	st := findStep(e, id)
	snap := st.Snapshot(s)
	if id == steps.Health {
		defer func() {
			for _, r := range t.ladder.changed(healthLadder(snap)) {
				t.printf("  %s\n", RungLine(r, t.now()))
			}
		}()
	}
	switch ev := ev.(type) {
	case steps.CheckDone:
		if reportOnly(e) {
			return
		}
		// Rows are held until every check running beside them is done, then
		// printed in the registry's order: a transcript (and a screen
		// reader) gets the same order every run.
		t.mu.Lock()
		if t.held == nil {
			t.held = map[string]heldRow{}
		}
		t.held[ev.ID] = heldRow{step: id, done: ev}
		t.mu.Unlock()
		for _, it := range snap.Items {
			if it.Running {
				return
			}
		}
		t.mu.Lock()
		under := t.heading == id
		t.mu.Unlock()
		if !under {
			// Background checks of an earlier step (prerequisites run
			// while the technician signs in), or of a step whose
			// "(continued)" heading comes next: held for that heading,
			// so each row is under its own step.
			return
		}
		t.printRows(e, snap, "")
	case steps.TenantResolved:
		if ev.Err == nil {
			t.printf("  tenant %s resolved to %s (cloud %s)\n", text.Line(s.Opt.Tenant), ev.Info.ID, ev.Info.Cloud)
		}
	case steps.DeviceCodeIssued:
		if ev.Err == nil {
			if d, ok := snap.Detail.(*steps.SignInDetail); ok && d.Notice != "" {
				t.printf("  %s\n", text.Line(d.Notice))
			}
			t.printf("  To sign in, open %s and enter the code %s\n", text.Line(ev.Code.VerificationURL), text.Line(ev.Code.UserCode))
			t.printf("  (the code expires at %s). Waiting for sign-in…\n", ev.Code.ExpiresOn.Local().Format("15:04:05"))
		}
	case steps.BrowserPrompted:
		if d, ok := snap.Detail.(*steps.SignInDetail); ok && d.Notice != "" {
			t.printf("  %s\n", text.Line(d.Notice))
		}
		t.printBrowser(steps.ViewBrowser(ev.Prompt))
	case steps.RedirectDelivered:
		if ev.Err != nil {
			t.printf("  That URL did not complete the sign-in: %s\n  Paste the whole address from the browser's address bar (it starts with http://localhost).\n", text.Line(ev.Err.Error()))
		} else {
			t.printf("  Got it; finishing the sign-in…\n")
		}
	case steps.Bootstrapped, steps.CustomerTokensIssued:
		// Customer mode: the consent bootstrap's row that just ended.
		if n := len(snap.Items); n > 0 {
			it := snap.Items[n-1]
			t.printf("  %s %s: %s\n", OutcomeWord(it.Mark()), text.Line(it.Label), text.Line(it.Summary))
		}
	case steps.TenantLoaded:
		if ev.Err == nil {
			t.printf("  Signed in as %s to %s (tenant %s)\n", text.Line(s.Account.Username), text.Line(ev.Org.DisplayName), s.Account.TenantID)
		}
	case steps.ChangeApplied:
		if ev.Err != nil && id == steps.Roles && snap.Status != steps.StatusFailed && len(s.Deferred) > 0 {
			t.printf("  deferred: creating the platform's service principal hit AADSTS650051; it and its %d role assignment(s) are retried with consent in the Mapping step\n", len(s.Deferred)-1)
		}
		if ev.Err == nil {
			a := ev.Applied
			what := "applied"
			if a.NoOp {
				what = "already in place"
			}
			rid := ""
			if a.RequestID != "" {
				rid = " (request id " + a.RequestID + ")"
			}
			t.printf("  %s: %s%s\n", what, text.Line(a.Change.Summary), rid)
		}
	case steps.ReceiptWritten:
		t.mu.Lock()
		again := t.receipt == ev.Path
		t.receipt = ev.Path
		t.mu.Unlock()
		if ev.Err == nil && ev.Path != "" && !again {
			t.printf("  receipt: %s\n  audit trail: %s\n", ev.Path, ev.AuditPath)
		}
	case steps.ConsentHandoff:
		if ev.Note == "" {
			t.printf("  Ask a Global Administrator of the tenant to open this admin-consent URL and accept:\n  %s\n  waiting for the grant to appear…\n", text.Line(ev.URL))
		} else {
			t.printf("  the admin-consent attempt said: %s\n", text.Line(ev.Note))
		}
	case steps.ConsentDone:
		d, _ := snap.Detail.(*steps.MappingDetail)
		if ev.Err == nil {
			if s.Organization.Name != "" {
				t.printf("  organization: %s\n", text.Line(s.Organization.Name))
			}
			if ev.Result.Created {
				t.printf("  created the platform's service principal\n")
			}
			for _, g := range ev.Result.Granted {
				t.printf("  granted %s\n", text.Line(g))
			}
			switch n := len(ev.Result.AlreadyGranted); {
			case n > 0 && d != nil && d.ConsentURL != "":
				// The hand-off: a Global Administrator granted them (or
				// had); the wizard read them back.
				t.printf("  the admin consent is in place: the platform's app holds the %d application permission(s) it asks for\n", n)
			case n > 0:
				t.printf("  %d permission(s) were already granted\n", n)
			}
		} else if d != nil && d.Reason != "" && snap.Status != steps.StatusFailed {
			// The explanation once; then one short line per attempt.
			next := ""
			if !d.RetryAt.IsZero() {
				next = "; next attempt at " + clock(d.RetryAt, t.now())
			}
			t.mu.Lock()
			again := t.explained[d.Phase]
			t.mu.Unlock()
			if again {
				t.printf("  attempt %d failed the same way%s\n", d.Attempts, next)
			} else {
				t.mu.Lock()
				if t.explained == nil {
					t.explained = map[string]bool{}
				}
				t.explained[d.Phase] = true
				t.mu.Unlock()
				t.printf("  %s\n", text.Line(d.Reason))
				if next != "" {
					t.printf("  %s\n", strings.TrimPrefix(next, "; "))
				}
			}
		}
	case steps.Mapped:
		if ev.Err == nil {
			t.printf("  mapped tenant %s to %s (integration %s, %s)\n", s.TenantID, text.Line(s.Organization.Name), text.Line(ev.Integration.ID), text.Line(ev.Integration.Status))
		}
	case steps.HealthProbed:
		d, _ := snap.Detail.(*steps.HealthDetail)
		if ev.Err != nil {
			t.printf("  could not read health (will retry): %s\n", text.Line(ev.Err.Error()))
			break
		}
		in := ev.Integration
		line := fmt.Sprintf("  integration %s", strings.ToUpper(in.Status[:1])+in.Status[1:])
		if d != nil && !d.Started.IsZero() {
			line += fmt.Sprintf(", %s elapsed", ev.At.Sub(d.Started).Round(time.Second))
		}
		if in.Reason != "" {
			// The platform's own stamps in the reason are shown as the
			// wizard shows times (one format on the line).
			line += ": " + text.Line(text.ClockTimes(in.Reason, t.now()))
		}
		t.printf("%s\n", line)
		if d != nil && d.Remedy != "" && in.Status == "unhealthy" {
			t.mu.Lock()
			again := t.remedy == d.Remedy
			t.remedy = d.Remedy
			t.mu.Unlock()
			if !again {
				t.printf("         remedy: %s\n", text.Line(d.Remedy))
			}
		}
		if d != nil && snap.Status == steps.StatusWaiting && d.Blocked != "" {
			t.printf("  %s\n", text.Line(d.Blocked))
		}
		if d != nil && in.Status != "healthy" && snap.Status == steps.StatusRunning {
			eta := ""
			if at, ok := d.ETA(); ok && in.Status == "pending" {
				eta = fmt.Sprintf("; first data expected by %s (it can take up to 24 h)", clock(at, t.now()))
			}
			t.printf("  next check in %s%s\n", d.NextIn.Round(time.Second), eta)
		}
	}
}

func (t *Text) printBrowser(p steps.BrowserView) {
	if p.Opened {
		t.printf("  Opened your browser for sign-in. If it did not open, visit:\n  %s\n", text.Line(p.URL))
	} else {
		t.printf("  Open this URL in a browser to sign in:\n  %s\n", text.Line(p.URL))
	}
	if p.SSHCommand != "" {
		t.printf("  Over SSH, forward the port first:  %s\n", text.Line(p.SSHCommand))
		if t.CanPaste {
			t.printf("  or paste here the URL the browser ends on (it starts with http://localhost:%d) and press Enter.\n", p.Port)
		}
	} else if t.CanPaste && !p.Opened {
		t.printf("  If the browser is on another machine, paste here the URL it ends on (http://localhost:%d/…) and press Enter.\n", p.Port)
	}
}

// clock formats a time as 15:04:05, with the date when it is not today.
func clock(at, now time.Time) string { return text.Clock(at, now) }

// Answered implements Reporter.
func (t *Text) Answered(e *steps.Engine, q steps.Question, v string, auto bool) {
	if len(q.Details) > 0 && auto {
		t.printf("  %s\n", planHead(e, q))
		for _, d := range q.Details {
			t.printf("    - %s\n", text.Line(d))
		}
	}
	if auto {
		t.printf("  %s %s (%s)\n", text.Line(q.Prompt), v, q.Flag)
	}
}

// planHead counts a question's plan the one way the step does (the
// changes its plan holds, its line "6 changes planned"): "Plan (5 of the 6
// changes planned):" when the question applies part of them.
func planHead(e *steps.Engine, q steps.Question) string {
	n := len(q.ChangeIDs)
	if n == 0 {
		return "Plan:"
	}
	if e != nil {
		if pd, ok := e.Current().Snapshot(e.Session()).Detail.(*steps.PlanDetail); ok && pd != nil && len(pd.Plan) > n {
			return fmt.Sprintf("Plan (%d of the %d changes planned):", n, len(pd.Plan))
		}
	}
	if n == 1 {
		return "Plan (1 change):"
	}
	return fmt.Sprintf("Plan (%d changes):", n)
}

// Finished implements Reporter.
func (t *Text) Finished(e *steps.Engine, code int, err error) {
	s := e.Session()
	t.flushLeftovers(e)
	if err != nil {
		var ni *NeedsInputError
		if errors.As(err, &ni) && len(ni.Question.Details) > 0 {
			// What the unanswered question was about.
			t.printf("\n")
			for _, d := range ni.Question.Details {
				t.printf("  - %s\n", text.Line(d))
			}
		}
		t.printf("\nStopped: %s\n", text.Line(err.Error()))
		return
	}
	if d := e.Done(t.now()); d != nil {
		t.finishedFlow(e, d)
		return
	}
	if f := e.Failure(); f != nil {
		if f.Kind == steps.FailPending {
			t.printf("\nHealth still pending: %s\n", text.Line(f.Message))
		} else {
			t.printf("\n%s\n", failedLine(e.Current().Title(), f))
		}
		if f.Remedy != "" {
			for _, l := range strings.Split(f.Remedy, "\n") {
				t.printf("  what to do: %s\n", text.Line(l))
			}
		}
		if s.ReceiptPath != "" {
			t.printf("  receipt: %s\n", s.ReceiptPath)
		}
		return
	}
	if s.Outcome == "dry-run" {
		cmd := strings.ReplaceAll(e.Flow(), "-", " ")
		if cmd == "" {
			cmd = "onboard"
		}
		t.printf("\nDry run: nothing in the tenant changed. The plan that %s would apply (after asking):\n", cmd)
		for _, c := range s.Plan {
			t.printf("  - %s  ⟶  %s\n", text.Line(c.Summary), text.Line(c.Call))
		}
		if len(s.Plan) == 0 {
			t.printf("  (none: the tenant is ready and mapped)\n")
		}
		return
	}
	t.printf("\nHealthy: tenant %s is connected to the platform organization %s.\n", text.Line(s.Org.DisplayName), text.Line(s.Organization.Name))
	t.printf("  changes made: %d", s.ChangesMade())
	if s.ReceiptPath != "" {
		t.printf(" (receipt: %s)", s.ReceiptPath)
	}
	t.printf("\n")
	if s.HaveSummary {
		t.printf("  billable identities (enabled, licensed users): %d\n", s.Billable)
		switch {
		case s.MFATotal > 0:
			t.printf("  MFA registered: %d of %d users (%d%%)\n", s.MFARegistered, s.MFATotal, text.Percent(s.MFARegistered, s.MFATotal))
		case s.MFATotal == 0:
			t.printf("  MFA registered: no users in the report\n")
		default:
			t.printf("  MFA registration: not permitted to read the report\n")
		}
	}
}

// failedLine heads a step's failure: "Sign-in failed: …", or "Prerequisites
// stopped: …" for a run stopped for the technician (exit 3, the TUI's
// "Stopped"); a message that already names the step's failure ("Sign-in
// failed: AADSTS…") is not prefixed twice.
func failedLine(title string, f *steps.Failure) string {
	msg := text.Line(f.Message)
	word := "failed"
	if f.Kind == steps.FailStopped {
		word = "stopped"
	}
	if strings.HasPrefix(msg, title+" failed") || strings.HasPrefix(msg, title+" stopped") {
		return msg
	}
	return title + " " + word + ": " + msg
}

// flushLeftovers prints rows still held when the run ends before their
// step continued (sign-in failed while the prerequisites waited).
func (t *Text) flushLeftovers(e *steps.Engine) {
	t.mu.Lock()
	n := len(t.held)
	t.mu.Unlock()
	if n == 0 {
		return
	}
	for _, st := range e.Steps() {
		if st.ID() == e.Current().ID() {
			continue
		}
		snap := st.Snapshot(e.Session())
		has := false
		t.mu.Lock()
		for _, it := range snap.Items {
			_, ok := t.held[it.ID]
			has = has || ok
		}
		for _, h := range t.held {
			has = has || h.step == st.ID()
		}
		t.mu.Unlock()
		if has {
			t.printf("\n== Step %s: %s (results of its background checks)\n", t.num.of(e, st.ID()), st.Title())
			t.printRows(e, snap, "")
		}
	}
}

// finishedFlow ends a run of a flow other than onboarding: its failure
// (unless the report says it), the check report, the headline and lines.
func (t *Text) finishedFlow(e *steps.Engine, d *steps.Done) {
	s := e.Session()
	if f := e.Failure(); f != nil && (d.Report == nil || e.Current().ID() != steps.Checks) {
		t.printf("\n%s\n", failedLine(e.Current().Title(), f))
		if f.Remedy != "" {
			for _, l := range strings.Split(f.Remedy, "\n") {
				t.printf("  what to do: %s\n", text.Line(l))
			}
		}
		if s.ReceiptPath != "" {
			t.printf("  receipt: %s\n", s.ReceiptPath)
		}
	}
	if d.Report != nil {
		// The report ends with its own result line.
		t.mu.Lock()
		CheckReport(t.W, *d.Report)
		t.mu.Unlock()
		return
	}
	if d.Status != nil && e.Failure() == nil {
		// Under the status step's heading: one block per tenant.
		t.mu.Lock()
		StatusReport(t.W, *d.Status, t.now())
		t.mu.Unlock()
		return
	}
	if e.Failure() != nil {
		return
	}
	t.printf("\n%s\n", text.Line(d.Headline))
	for _, l := range d.Lines {
		t.printf("  %s\n", text.Line(l))
	}
}

// JSON prints one JSON object per line: every object has time, step and type.
type JSON struct {
	W      io.Writer
	Now    func() time.Time
	mu     sync.Mutex
	seen   map[steps.ID]bool
	ladder ladderSeen
	num    numbering
}

func (j *JSON) now() time.Time {
	if j.Now != nil {
		return j.Now()
	}
	return time.Now()
}

func (j *JSON) emit(step steps.ID, typ string, fields map[string]any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	m := map[string]any{"time": now.UTC().Format(time.RFC3339Nano), "step": string(step), "type": typ}
	for k, v := range fields {
		m[k] = v
	}
	b, err := text.Marshal(m)
	if err != nil {
		b, _ = text.Marshal(map[string]any{"time": m["time"], "step": step, "type": "error", "message": err.Error()})
	}
	j.W.Write(append(b, '\n'))
}

// StepStarted implements Reporter.
func (j *JSON) StepStarted(e *steps.Engine, st steps.Step) {
	j.mu.Lock()
	if j.seen == nil {
		j.seen = map[steps.ID]bool{}
	}
	again := j.seen[st.ID()]
	j.seen[st.ID()] = true
	j.mu.Unlock()
	f := map[string]any{"title": st.Title(), "number": j.num.of(e, st.ID())}
	if again {
		f["resumed"] = true // the prerequisites continue after sign-in
	}
	j.emit(st.ID(), "step_started", f)
}

// Outcome implements Reporter.
func (j *JSON) Outcome(e *steps.Engine, id steps.ID, ev steps.Event) {
	s := e.Session()
	snap := findStep(e, id).Snapshot(s)
	if id == steps.Health {
		defer func() {
			for _, r := range j.ladder.changed(healthLadder(snap)) {
				j.emit(id, "evidence", map[string]any{"rung": r})
			}
		}()
	}
	switch ev := ev.(type) {
	case steps.CheckDone:
		r := ev.Result
		f := map[string]any{"id": ev.ID, "title": s.Titles[ev.ID], "outcome": r.Outcome, "summary": r.Summary, "duration_ms": r.Duration.Milliseconds()}
		if r.Remedy != "" && steps.MarkOf(r.Outcome) != steps.MarkPass {
			f["remedy"] = r.Remedy
		}
		if len(r.Changes) > 0 {
			f["changes"] = r.Changes
		}
		j.emit(id, "check", f)
	case steps.TenantResolved:
		if ev.Err == nil {
			j.emit(id, "tenant_resolved", map[string]any{"tenant": s.Opt.Tenant, "tenant_id": ev.Info.ID, "cloud": ev.Info.Cloud})
		}
	case steps.DeviceCodeIssued:
		if ev.Err == nil {
			j.emit(id, "device_code", map[string]any{"user_code": ev.Code.UserCode, "verification_uri": ev.Code.VerificationURL,
				"expires_at": ev.Code.ExpiresOn.UTC().Format(time.RFC3339)})
		}
	case steps.BrowserPrompted:
		f := map[string]any{"url": ev.Prompt.URL, "port": ev.Prompt.Port, "opened": ev.Prompt.Opened}
		if ev.Prompt.SSHCommand != "" {
			f["ssh_command"] = ev.Prompt.SSHCommand
		}
		if d, ok := snap.Detail.(*steps.SignInDetail); ok && d.Notice != "" {
			f["notice"] = d.Notice
		}
		j.emit(id, "browser_signin", f)
	case steps.SignedIn:
		if snap.Status != steps.StatusFailed {
			j.emit(id, "signed_in", map[string]any{"account": ev.Account.Username, "tenant_id": ev.Account.TenantID})
		}
	case steps.TenantLoaded:
		if ev.Err == nil {
			j.emit(id, "tenant", map[string]any{"tenant_id": ev.Org.ID, "tenant_name": ev.Org.DisplayName, "account": ev.User.UserPrincipalName})
		}
	case steps.ChangeApplied:
		if ev.Err != nil && id == steps.Roles && snap.Status != steps.StatusFailed && len(s.Deferred) > 0 {
			j.emit(id, "change_deferred", map[string]any{"changes": s.Deferred, "reason": "AADSTS650051 while creating the platform's service principal; retried with consent in the mapping step"})
		}
		if ev.Err == nil {
			j.emit(id, "change_applied", map[string]any{"change": ev.Applied.Change, "request_id": ev.Applied.RequestID, "no_op": ev.Applied.NoOp})
		}
	case steps.ReceiptWritten:
		if ev.Err == nil && ev.Path != "" {
			j.emit(id, "receipt", map[string]any{"path": ev.Path, "audit_path": ev.AuditPath})
		}
	case steps.ConsentHandoff:
		f := map[string]any{"url": ev.URL}
		if ev.Note != "" {
			f["note"] = ev.Note
		}
		j.emit(id, "consent_handoff", f)
	case steps.ConsentDone:
		if ev.Err == nil {
			j.emit(id, "consent", map[string]any{"organization_id": s.Organization.ID, "organization": s.Organization.Name,
				"service_principal_id": ev.Result.ServicePrincipalID, "created": ev.Result.Created, "granted": ev.Result.Granted, "already_granted": ev.Result.AlreadyGranted})
		} else if d, ok := snap.Detail.(*steps.MappingDetail); ok && snap.Status != steps.StatusFailed {
			f := map[string]any{"reason": d.Reason, "attempt": d.Attempts}
			if !d.RetryAt.IsZero() {
				f["retry_at"] = d.RetryAt.UTC().Format(time.RFC3339)
			}
			j.emit(id, "consent_retry", f)
		}
	case steps.StatusRead:
		j.emit(id, "tenant_status", map[string]any{"tenant_status": steps.NewTenantStatus(ev)})
	case steps.Mapped:
		if ev.Err == nil {
			j.emit(id, "mapped", map[string]any{"integration_id": ev.Integration.ID, "organization_id": s.Organization.ID,
				"organization": s.Organization.Name, "status": ev.Integration.Status})
		}
	case steps.HealthProbed:
		d, _ := snap.Detail.(*steps.HealthDetail)
		if ev.Err != nil {
			j.emit(id, "health_error", map[string]any{"error": ev.Err.Error()})
			break
		}
		in := ev.Integration
		f := map[string]any{"status": in.Status, "reason_code": in.ReasonCode, "reason": in.Reason}
		if d != nil {
			f["elapsed_s"] = ev.At.Sub(d.Started).Seconds()
			if snap.Status == steps.StatusRunning && in.Status != "healthy" {
				f["next_check_s"] = d.NextIn.Seconds()
			}
			if d.Remedy != "" {
				f["remedy"] = d.Remedy
			}
			if d.Blocked != "" && snap.Status == steps.StatusWaiting {
				f["blocked"] = d.Blocked
			}
			if at, ok := d.ETA(); ok {
				f["expected_first_data_at"] = at.UTC().Format(time.RFC3339)
			}
		}
		j.emit(id, "health", f)
	}
}

// Answered implements Reporter.
func (j *JSON) Answered(e *steps.Engine, q steps.Question, v string, auto bool) {
	j.emit(e.Current().ID(), "answer", map[string]any{"question": q.ID, "prompt": q.Prompt, "details": q.Details, "answer": v, "flag": q.Flag, "automatic": auto})
}

// Finished implements Reporter.
func (j *JSON) Finished(e *steps.Engine, code int, err error) {
	s := e.Session()
	f := map[string]any{"exit_code": code, "tenant_id": s.TenantID}
	outcome := "healthy"
	switch {
	case err != nil:
		outcome = "failed"
		switch code {
		case 130:
			outcome = "interrupted"
		case 2:
			outcome = "needs-input" // a question no flag answered
		}
		f["message"] = err.Error()
	case e.Failure() != nil:
		fl := e.Failure()
		outcome = string(fl.Kind)
		f["message"], f["remedy"] = fl.Message, fl.Remedy
	case s.Outcome == "dry-run":
		outcome = "dry-run"
		f["plan"] = s.Plan
	}
	if d := e.Done(j.now()); d != nil {
		if err == nil && e.Failure() == nil {
			outcome = d.Outcome
			f["message"] = d.Headline
		}
		for k, v := range d.Fields {
			f[k] = v
		}
	}
	f["outcome"] = outcome
	if s.Organization.ID != "" {
		f["organization"] = s.Organization.Name
		f["organization_id"] = s.Organization.ID
	}
	if s.Integration.ID != "" {
		f["integration_id"] = s.Integration.ID
	}
	if len(s.Ladder) > 0 {
		f["evidence"] = s.Ladder
	}
	f["changes"] = s.ChangesMade()
	if s.ReceiptPath != "" {
		f["receipt"] = s.ReceiptPath
	}
	if s.HaveSummary {
		f["billable_identities"] = s.Billable
		if s.MFATotal >= 0 {
			f["mfa_registered"], f["mfa_total"] = s.MFARegistered, s.MFATotal
		}
	}
	j.emit(e.Current().ID(), "finished", f)
}
