package plain

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"itdr-onboard/steps"
	"itdr-onboard/ui/text"
)

// Batch front-ends (issue 21): one line per tenant event, or one JSON
// object per event tagged with its tenant; both end with the summary.

// BatchText prints one line per tenant event.
type BatchText struct {
	W   io.Writer
	Now func() time.Time
	// Width wraps the summary to a terminal's columns (0: lines whole,
	// for a log or a pipe).
	Width int
	mu    sync.Mutex
	// last is each tenant's last printed line (without the clock): the
	// same words again (a snapshot re-sent for another reason) print once.
	last map[string]string
}

func (b *BatchText) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Event prints one line: clock, tenant, state glyph, what happened.
func (b *BatchText) Event(ev steps.BatchEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	when := text.Clock(ev.Time, b.now())
	if ev.TenantID == "" {
		if ev.Message != "" {
			fmt.Fprintf(b.W, "%s  %s\n", when, text.Line(ev.Message))
		}
		return
	}
	what := batchWhat(ev)
	if what == "" {
		return
	}
	glyph := " "
	switch ev.State {
	case "":
	case steps.TenantRunning:
		// Not the TUI's spinner frame: a line is printed once, and a screen
		// reader reads a braille cell aloud.
		glyph = "·"
	default:
		glyph = ev.State.Glyph()
	}
	line := fmt.Sprintf("%-26s %s %s", clipName(text.Line(ev.Tenant), 26), glyph, text.Line(text.ClockTimes(what, b.now())))
	if b.last == nil {
		b.last = map[string]string{}
	}
	if b.last[ev.TenantID] == line {
		return
	}
	b.last[ev.TenantID] = line
	fmt.Fprintf(b.W, "%s  %s\n", when, line)
}

// commonNext is the next action every tenant of a group shares (none
// handed off), or "" when they differ or there is one tenant.
func commonNext(ts []steps.BatchTenant) string {
	if len(ts) < 2 {
		return ""
	}
	for _, t := range ts {
		if t.HandOff != nil || t.Next != ts[0].Next {
			return ""
		}
	}
	return ts[0].Next
}

func clipName(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// batchWhat words one tenant event for a line ("" prints nothing).
func batchWhat(ev steps.BatchEvent) string {
	f := ev.Fields
	str := func(k string) string { s, _ := f[k].(string); return s }
	switch ev.Type {
	case steps.EventTenantState:
		s := string(ev.State)
		if ev.Message != "" && ev.Message != s {
			s += ": " + ev.Message
		}
		if ev.State == steps.TenantRunning && str("organization") != "" {
			s += " → organization " + str("organization")
			if n := str("organization_note"); n != "" {
				s += " (warning: " + n + ")"
			}
		}
		if n := str("next"); n != "" && ev.State.Final() && ev.State != steps.TenantHandedOff {
			s += " — next: " + n
		}
		return s
	case steps.EventHandOff:
		h, _ := f["handoff"].(*steps.HandOff)
		if h == nil {
			return "hand-off: " + ev.Message
		}
		s := "hand-off (" + h.Who + "): " + h.Reason
		if h.CustomerAction != "" {
			if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "?") && !strings.HasSuffix(s, "!") {
				s += "."
			}
			s += " " + h.CustomerAction
		}
		if h.Link != "" {
			s += " Link: " + h.Link
		}
		return s
	case "step_started":
		t := str("title")
		if t == "" {
			t = string(ev.Step)
		}
		return "step " + t
	case "change_applied":
		return fmt.Sprintf("%s: done: %s", ev.Step, ev.Message)
	case "change_failed":
		return fmt.Sprintf("%s: change failed: %s", ev.Step, str("error"))
	case "consent":
		return "consent granted to the platform's app"
	case "consent_retry":
		return "consent: retrying (" + str("error") + ")"
	case "mapped":
		return "mapped (integration " + str("integration_id") + ")"
	case "health":
		if e := str("error"); e != "" {
			return "health: " + e
		}
		s := "health: " + str("status")
		if r := str("reason"); r != "" && str("status") != "healthy" {
			s += " — " + r
		}
		return s
	case "receipt":
		return "receipt: " + str("receipt")
	case "check":
		if o := fmt.Sprint(f["outcome"]); o == "fail" || o == "warn" {
			return fmt.Sprintf("%s: %s", ev.Step, str("summary"))
		}
		return ""
	}
	if ev.Message != "" {
		return string(ev.Step) + ": " + ev.Message
	}
	return ""
}

// Summary prints the end of a batch: counts, then each group with its
// next action, the hand-offs with their links, and the batch's record.
// With Width set (a terminal: the summary after the watch screen) every
// line is wrapped to it between words, as the watch screen wraps
// (text.WrapLines), its continuation indented under its start.
func (b *BatchText) Summary(s steps.BatchSnapshot, code int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	say := func(indent string, hang int, line string) { b.say(indent, hang, text.Line(text.ClockTimes(line, now))) }
	blank := func() { fmt.Fprintln(b.W) }
	blank()
	head := fmt.Sprintf("Batch %s: %d tenants", s.ID, len(s.Tenants))
	for _, c := range s.Counts {
		head += fmt.Sprintf(" · %d %s", c.N, c.State)
	}
	say("", 2, head)
	groups := []struct {
		st    steps.TenantState
		title string
	}{
		{steps.TenantHealthy, "Healthy"},
		{steps.TenantPending, "Pending (mapped; waiting for data)"},
		{steps.TenantFailed, "Failed"},
		{steps.TenantHandedOff, "Handed off (needs the customer or a partner-side fix)"},
		{steps.TenantSkipped, "Skipped"},
		{steps.TenantQueued, "Not finished (`itdr-onboard batch resume` continues)"},
		{steps.TenantRunning, "Not finished (`itdr-onboard batch resume` continues)"},
		{steps.TenantWaiting, "Not finished (`itdr-onboard batch resume` continues)"},
	}
	for _, g := range groups {
		var ts []steps.BatchTenant
		for _, t := range s.Tenants {
			if t.State == g.st {
				ts = append(ts, t)
			}
		}
		if len(ts) == 0 {
			continue
		}
		sort.SliceStable(ts, func(i, j int) bool { return strings.ToLower(ts[i].Name) < strings.ToLower(ts[j].Name) })
		blank()
		say("", 2, fmt.Sprintf("%s %s (%d)", g.st.Glyph(), g.title, len(ts)))
		// One next action shared by the whole group (the pending tenants'
		// `batch status` later) is said once, under the title.
		common := commonNext(ts)
		if common != "" {
			say("  ", 6, "next: "+common)
		}
		for _, t := range ts {
			line := fmt.Sprintf("%-26s %-13s", clipName(text.Line(t.Name), 26), t.Lane)
			switch g.st {
			case steps.TenantHealthy, steps.TenantPending:
				line += fmt.Sprintf(" %d changes", t.Changes)
				if t.Evidence != "" {
					line += " · evidence: " + t.Evidence
				}
				if t.Org != "" {
					line += " · " + t.Org
				}
			default:
				line += " " + t.Message
			}
			say("  ", 4, line)
			if t.OrgNote != "" && (g.st == steps.TenantPending || g.st == steps.TenantHealthy) {
				say("      ", 2, "warning: "+t.OrgNote)
			}
			if h := t.HandOff; h != nil {
				say("      ", 2, "for the "+h.Who+": "+h.CustomerAction)
				if h.Link != "" {
					say("      ", 2, "link: "+h.Link)
				}
			} else if t.Next != "" && common == "" {
				say("      ", 2, "next: "+t.Next)
			}
			if t.ReceiptPath != "" && g.st != steps.TenantSkipped {
				say("      ", 2, "receipt: "+t.ReceiptPath)
			}
		}
	}
	blank()
	if s.ReceiptPath != "" {
		say("", 2, "Batch receipt: "+s.ReceiptPath)
	}
	if s.Count(steps.TenantHandedOff) > 0 {
		say("", 2, fmt.Sprintf("Hand-offs: `itdr-onboard batch handoff --batch %s` exports them as CSV and Markdown.", s.ID))
	}
	say("", 2, fmt.Sprintf("Exit code %d.", code))
}

// Say prints one line of words before a summary (batch status's health
// refresh), wrapped as the summary is.
func (b *BatchText) Say(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.say("", 2, text.Line(line))
}

// say prints one summary line after indent. Width 0: as it is. Otherwise
// wrapped between words to Width (text.WrapLines, as the watch screen
// wraps); continuation lines are indented hang columns more; a word too
// long for that (a path, a link) gets a line of its own from the first
// column and is never cut (the terminal folds it; it still copies whole).
func (b *BatchText) say(indent string, hang int, line string) {
	line = strings.TrimRight(line, " ")
	if b.Width <= 0 {
		fmt.Fprintln(b.W, indent+line)
		return
	}
	more := indent + strings.Repeat(" ", hang)
	for i, l := range text.WrapLines(line, max(b.Width-len(more), 20), math.MaxInt32) {
		p := more
		switch {
		case l.Out:
			p = ""
		case i == 0:
			p = indent
		}
		fmt.Fprintln(b.W, p+l.Text)
	}
}

// BatchJSON prints one JSON object per event: the onboard event schema
// (time, step, type and the type's fields) plus tenant_id and tenant.
type BatchJSON struct {
	W   io.Writer
	Now func() time.Time
	mu  sync.Mutex
}

func (j *BatchJSON) write(m map[string]any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	b, err := text.Marshal(m)
	if err != nil {
		b, _ = text.Marshal(map[string]any{"time": m["time"], "type": "error", "message": err.Error()})
	}
	j.W.Write(append(b, '\n'))
}

// Event implements the batch's event sink.
func (j *BatchJSON) Event(ev steps.BatchEvent) {
	at := ev.Time
	if at.IsZero() {
		at = time.Now()
		if j.Now != nil {
			at = j.Now()
		}
	}
	m := map[string]any{}
	for k, v := range ev.Fields {
		m[k] = v
	}
	m["time"] = at.UTC().Format(time.RFC3339Nano)
	m["step"] = string(ev.Step)
	if ev.Step == "" {
		m["step"] = "batch"
	}
	m["type"] = ev.Type
	if ev.TenantID != "" {
		m["tenant_id"], m["tenant"] = ev.TenantID, ev.Tenant
	}
	if ev.State != "" {
		m["state"] = ev.State
	}
	if ev.Message != "" {
		m["message"] = ev.Message
	}
	j.write(m)
}

// Summary prints the "finished" event: the exit code, counts and every
// tenant's outcome.
func (j *BatchJSON) Summary(s steps.BatchSnapshot, code int) {
	outcome := "done"
	switch {
	case !s.Finished:
		outcome = "interrupted"
	case s.Count(steps.TenantFailed) > 0:
		outcome = "failed"
	case s.Count(steps.TenantHandedOff) > 0:
		outcome = "handed-off"
	case s.Count(steps.TenantPending) > 0:
		outcome = "pending"
	}
	now := s.Now
	if now.IsZero() {
		now = time.Now()
	}
	j.write(map[string]any{"time": now.UTC().Format(time.RFC3339Nano), "step": "batch", "type": "finished", "outcome": outcome, "exit_code": code,
		"batch_id": s.ID, "counts": s.Counts, "tenants": s.Tenants, "receipt": s.ReceiptPath, "manifest": s.ManifestPath})
}
