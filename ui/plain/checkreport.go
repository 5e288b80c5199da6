package plain

import (
	"fmt"
	"io"

	"itdr-onboard/steps"
	"itdr-onboard/ui/text"
)

// CheckReport writes the `check` report: a row per check with its outcome,
// what it verified, the remedy and the changes onboard would make.
func CheckReport(w io.Writer, rep steps.CheckReport) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("\n== Check report")
	switch {
	case rep.Tenant != "" && rep.TenantID != "":
		p(": %s (%s)", text.Line(rep.Tenant), text.Line(rep.TenantID))
	case rep.TenantID != "":
		p(": tenant %s", text.Line(rep.TenantID))
	}
	p("\n")
	if rep.Account != "" {
		p("   signed in: %s\n", text.Line(rep.Account))
	}
	var failed, warned, skipped, planned, signIn int
	for _, r := range rep.Checks {
		mark := steps.MarkOf(r.Outcome)
		sev := ""
		if mark == steps.MarkFail && r.Severity == steps.SeverityRecommended {
			sev = " (recommended)"
		}
		p("  %s %s%s: %s\n", OutcomeWord(mark), text.Line(r.Title), sev, text.Line(r.Summary))
		if mark != steps.MarkPass && r.Remedy != "" {
			p("         remedy: %s\n", text.Line(r.Remedy))
		}
		if r.Error != "" && mark != steps.MarkPass {
			p("         error: %s\n", text.Line(r.Error))
		}
		for _, c := range r.Changes {
			p("         would change: %s  ⟶  %s\n", text.Line(c.Summary), text.Line(c.Call))
			if c.Warning != "" {
				p("           warning: %s\n", text.Line(c.Warning))
			}
		}
		planned += len(r.Changes)
		switch mark {
		case steps.MarkFail:
			failed++
		case steps.MarkWarn:
			warned++
		case steps.MarkSkip:
			skipped++
			if r.Detail != "" && r.Phase == steps.PhaseTenant {
				signIn++
			}
		}
	}
	p("\n")
	switch {
	case signIn > 0:
		p("Result: incomplete: %d of %d checks ran", len(rep.Checks)-skipped, len(rep.Checks))
		if failed > 0 {
			p(" and %d failed", failed)
		}
		p("; the other %d did not run (see above).\n", skipped)
	case failed == 0:
		p("Result: all %d checks passed", len(rep.Checks)-skipped-warned)
		if warned > 0 {
			p(", %d warning(s)", warned)
		}
		if skipped > 0 {
			p(", %d skipped", skipped)
		}
		p(".\n")
	default:
		p("Result: %d of %d checks failed", failed, len(rep.Checks))
		if warned > 0 {
			p(", %d warning(s)", warned)
		}
		if skipped > 0 {
			p(", %d skipped", skipped)
		}
		p(".\n")
	}
	if planned > 0 {
		p("  `itdr-onboard onboard` would make the %d change(s) listed above (after asking).\n", planned)
	}
	p("Nothing in the tenant was changed: check is read-only.\n")
}
