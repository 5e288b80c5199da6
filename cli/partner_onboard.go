package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"itdr-onboard/auth"
	"itdr-onboard/batch"
	"itdr-onboard/customer"
	"itdr-onboard/partner"
	"itdr-onboard/steps"
	"itdr-onboard/ui/plain"
	"itdr-onboard/ui/text"
)

// `partner onboard --tenant T` (issue 20): one GDAP customer with the
// partner technician's single sign-in. Sign-in and discovery are the
// partner flow (cli/partner.go, read-only, partner side only); then the
// customer's row (its GDAP roles, its organization) drives the customer
// flow of package customer — consent bootstrap → prerequisites → role
// fixes → mapping → health — in the TUI, line mode or --json.

type onboardOne struct {
	tenant  string // tenant id, domain or exact customer name
	opt     customer.Options
	baseDir string // the state dir (tenants/<id>/…), as onboard and batch
	g       *globalFlags
	io      IO
}

// findRow is the discovery row a --tenant names: its tenant id, a domain or
// its exact name (case-insensitive).
func findRow(plan partner.Plan, want string) (partner.Row, error) {
	w := strings.ToLower(strings.TrimSpace(want))
	var byName []partner.Row
	for _, r := range plan.Rows {
		if strings.ToLower(r.TenantID) == w || strings.ToLower(r.Domain) == w {
			return r, nil
		}
		if strings.ToLower(r.Name) == w {
			byName = append(byName, r)
		}
	}
	if len(byName) == 1 {
		return byName[0], nil
	}
	if len(byName) > 1 {
		var ids []string
		for _, r := range byName {
			ids = append(ids, r.TenantID)
		}
		return partner.Row{}, usageError("--tenant %q names %d customers (%s): pass the tenant id", want, len(byName), strings.Join(ids, ", "))
	}
	return partner.Row{}, usageError("--tenant %q is none of the %d customers this partner user can see (GDAP relationships, Partner Center, platform): pass a tenant id, domain or exact name from `itdr-onboard batch plan`", want, len(plan.Rows))
}

func (o *onboardOne) after(ctx context.Context, w *wiring, pc *partner.PartnerCenter, plan partner.Plan, mode string) int {
	io := o.io
	row, err := findRow(plan, o.tenant)
	if err != nil {
		fmt.Fprintln(io.Err, "error:", text.Line(err.Error()))
		return ExitUsage
	}
	if w.platform == nil {
		fmt.Fprintln(io.Err, "error: onboarding maps the tenant on the platform: set ITDR_API_KEY and ITDR_API_SECRET (or use an endpoints file that has them)")
		return ExitUsage
	}
	if pc == nil {
		fmt.Fprintln(io.Err, "error: onboarding a customer over GDAP needs Partner Center for the consent bootstrap; this cloud has none configured")
		return ExitUsage
	}
	switch row.Lane {
	case partner.LaneNoGDAP, partner.LaneNotAssigned:
		// Nothing the partner user can do in the tenant: say who must act,
		// without a request to the customer.
		out := customer.Outcome{TenantID: row.TenantID, Name: row.Name, Result: customer.ResultHandedOff, ExitCode: ExitStopped, Lane: row.Lane,
			Message: fmt.Sprintf("%s is in lane %s: this partner user cannot act in the tenant.", row.Name, row.Lane), Remedy: row.Remedy,
			HandOff: []customer.HandOff{{Reason: "lane " + string(row.Lane), CustomerAction: row.Remedy, Who: map[partner.Lane]string{partner.LaneNoGDAP: "customer", partner.LaneNotAssigned: "partner"}[row.Lane], Link: row.InviteURL}}}
		o.report(mode, out, customer.Receipt{})
		return out.ExitCode
	}
	opt := o.opt
	if code, ok := o.resolveOrg(ctx, w, &row, &opt, mode); !ok {
		return code
	}
	acct, _ := w.auth.Account()
	deps := customer.Deps{Endpoints: w.ep, HTTP: w.hc, Token: w.auth.TokenForTenant, Account: acct,
		PartnerCenter: pc, Platform: w.platform, StateDir: o.baseDir, Now: w.now}
	opt.Interactive = mode == "tui" || (mode == "plain" && io.IsTTY)
	run, err := customer.New(deps, row, opt)
	if err != nil {
		fmt.Fprintln(io.Err, "error:", text.Line(err.Error()))
		return ExitUsage
	}
	var out customer.Outcome
	var rec customer.Receipt
	switch mode {
	case "tui":
		if err := run.Lock(); err != nil {
			fmt.Fprintln(io.Err, "error:", text.Line(err.Error()))
			return ExitStopped
		}
		defer run.Unlock()
		r := steps.NewRunner(ctx, run.Executor, 8)
		code := runTUI(ctx, run.Engine, r, io, o.g, run.Session.Opt, nil)
		out, rec = run.Finish(r, code, nil)
		o.report(mode, out, rec)
	case "json":
		rep := &heldFinish{inner: &plain.JSON{W: io.Out, Now: io.Now}}
		out, rec = run.Drive(ctx, nil, rep, nil)
		o.report(mode, out, rec)
		rep.flush(out.ExitCode)
	default:
		var ans plain.Answerer
		if io.IsTTY {
			ans = plain.Prompt{Yes: opt.Yes, Lines: plain.NewLines(io.In), Out: io.Out}
		}
		out, rec = run.Drive(ctx, nil, &plain.Text{W: io.Out, CanPaste: false, Now: io.Now}, ans)
		o.report(mode, out, rec)
	}
	return out.ExitCode
}

// resolveOrg settles the platform organization before anything is written
// (the consent bootstrap is the flow's first write): --org, or an
// organization named exactly like the customer (discovery's match), maps
// like --org. Otherwise the batch's own matching (batch.Match) names the
// closest organization, which is shown and must be confirmed — a question
// in a terminal (TUI or plain), --yes, or --org; headless without either
// stops here with exit 2 and nothing written. With no organization named
// anything like the customer, a terminal picks in the mapping step's list;
// headless stops.
func (o *onboardOne) resolveOrg(ctx context.Context, w *wiring, row *partner.Row, opt *customer.Options, mode string) (int, bool) {
	if opt.Org != "" || row.OrgID != "" || row.Lane == partner.LaneConnected || row.Lane == partner.LaneConflict {
		return 0, true
	}
	io := o.io
	interactive := io.IsTTY && mode != "json"
	stop := func(code int, msg string) (int, bool) {
		if mode == "json" {
			o.event("error", map[string]any{"message": msg, "tenant_id": row.TenantID, "name": row.Name})
		}
		fmt.Fprintln(io.Err, "error:", text.Line(msg))
		return code, false
	}
	orgs, err := w.platform.AllOrganizations(ctx, "")
	if err != nil {
		return stop(ExitFailed, "reading the platform's organizations: "+err.Error())
	}
	t, _ := batch.Match(*row, orgs, nil)
	switch t.OrgSource {
	case "exact":
		row.OrgID, row.Organization = t.OrgID, t.Org
		return 0, true
	case "best-match":
	default:
		if interactive {
			return 0, true // the mapping step lists the organizations to pick from
		}
		return stop(ExitUsage, fmt.Sprintf("No platform organization is named like %q. Nothing was changed: pass --org with the organization's id.", row.Name))
	}
	what := fmt.Sprintf("No platform organization is named exactly %q; the closest is %q (%s).", row.Name, t.Org, t.OrgID)
	accept := func(by string) (int, bool) {
		row.OrgID, row.Organization = t.OrgID, t.Org
		opt.Org = t.OrgID
		if mode == "json" {
			o.event("organization_match", map[string]any{"tenant_id": row.TenantID, "name": row.Name, "organization": t.Org,
				"organization_id": t.OrgID, "exact": false, "accepted_by": by, "message": what})
		} else {
			fmt.Fprintf(io.Out, "warning: %s Mapping it there (%s).\n", text.Line(what), by)
		}
		return 0, true
	}
	switch {
	case opt.Yes:
		return accept("--yes")
	case interactive:
		fmt.Fprintf(io.Out, "%s\nMap %s to the platform organization %q (%s)? [y/N] ", text.Line(what), text.Line(row.Name), text.Line(t.Org), t.OrgID)
		ans, err := plain.NewLines(io.In).Next(ctx)
		if err != nil || !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ans)), "y") {
			fmt.Fprintln(io.Out, "Nothing changed. Pass --org with the organization's id to map it elsewhere.")
			return ExitStopped, false
		}
		return accept("confirmed")
	}
	return stop(ExitUsage, what+" Nothing was changed: pass --org "+t.OrgID+" to map it there (or another organization's id), or --yes to accept the closest match.")
}

// event prints one JSON event of the command (before the customer run's).
func (o *onboardOne) event(typ string, f map[string]any) {
	now := time.Now
	if o.io.Now != nil {
		now = o.io.Now
	}
	m := map[string]any{"time": now().UTC().Format(time.RFC3339Nano), "step": string(steps.Bootstrap), "type": typ}
	for k, v := range f {
		m[k] = v
	}
	if b, err := text.Marshal(m); err == nil {
		fmt.Fprintln(o.io.Out, string(b))
	}
}

// report prints how the customer run ended: a JSON event (type
// "customer"), or lines.
func (o *onboardOne) report(mode string, out customer.Outcome, rec customer.Receipt) {
	w := o.io.Out
	if mode == "json" {
		now := time.Now
		if o.io.Now != nil {
			now = o.io.Now
		}
		m := map[string]any{"time": now().UTC().Format(time.RFC3339Nano), "step": string(steps.Bootstrap), "type": "customer",
			"tenant_id": out.TenantID, "name": out.Name, "result": out.Result, "exit_code": out.ExitCode, "lane": out.Lane,
			"consent": out.Consent, "integration_id": out.IntegrationID, "changes_made": out.ChangesMade,
			"hand_off": out.HandOff, "message": out.Message, "remedy": out.Remedy, "receipt": rec.Path, "journal": rec.Journal}
		if b, err := text.Marshal(m); err == nil {
			fmt.Fprintln(w, string(b))
		}
		return
	}
	// The line front-end has printed the run's end (the hand-offs, the
	// failure and its remedy); the TUI's screen is gone: say it all.
	writeCustomerOutcome(w, out, rec, mode == "tui" || out.Result == customer.ResultHandedOff && out.IntegrationID == "" && out.Consent == "")
}

func writeCustomerOutcome(w io.Writer, out customer.Outcome, rec customer.Receipt, full bool) {
	fmt.Fprintf(w, "\nCustomer %s (%s): %s (exit %d), lane %s\n", text.Line(out.Name), out.TenantID, out.Result, out.ExitCode, out.Lane)
	if out.Consent != "" {
		fmt.Fprintf(w, "  onboarding app consent: %s\n", out.Consent)
	}
	if out.IntegrationID != "" {
		fmt.Fprintf(w, "  integration: %s\n", out.IntegrationID)
	}
	if !full {
		for _, h := range out.HandOff {
			if h.Link != "" {
				fmt.Fprintf(w, "  link for the customer: %s\n", h.Link)
			}
		}
		if rec.Path != "" {
			fmt.Fprintf(w, "  receipt: %s\n", rec.Path)
		}
		return
	}
	if out.Message != "" && out.Result != customer.ResultHealthy {
		fmt.Fprintf(w, "  %s\n", text.Line(out.Message))
	}
	if out.Remedy != "" && len(out.HandOff) == 0 {
		fmt.Fprintf(w, "  next: %s\n", text.Line(out.Remedy))
	}
	for _, h := range out.HandOff {
		fmt.Fprintf(w, "  handed off (%s): %s\n", h.Who, text.Line(h.Reason))
		if len(h.Steps) > 0 {
			fmt.Fprintf(w, "    steps: %s\n", text.Line(strings.Join(h.Steps, "; ")))
		}
		if h.CustomerAction != "" {
			fmt.Fprintf(w, "    what to do: %s\n", text.Line(h.CustomerAction))
		}
		if h.Link != "" {
			fmt.Fprintf(w, "    link: %s\n", h.Link)
		}
	}
	if rec.Path != "" {
		fmt.Fprintf(w, "  receipt: %s\n", rec.Path)
	}
}

// heldFinish forwards a reporter's events but holds its "finished" until
// the customer outcome has been printed (the last JSON line stays
// "finished", with the customer run's exit code).
type heldFinish struct {
	inner plain.Reporter
	e     *steps.Engine
	err   error
}

func (h *heldFinish) StepStarted(e *steps.Engine, st steps.Step) { h.inner.StepStarted(e, st) }
func (h *heldFinish) Outcome(e *steps.Engine, id steps.ID, ev steps.Event) {
	h.inner.Outcome(e, id, ev)
}
func (h *heldFinish) Answered(e *steps.Engine, q steps.Question, v string, auto bool) {
	h.inner.Answered(e, q, v, auto)
}
func (h *heldFinish) Finished(e *steps.Engine, _ int, err error) { h.e, h.err = e, err }

func (h *heldFinish) flush(code int) {
	if h.e != nil {
		h.inner.Finished(h.e, code, h.err)
	}
}

func addOnboardOneFlags(c *cobra.Command, o *onboardOne, wait *string) {
	fl := c.Flags()
	fl.StringVar(&o.tenant, "tenant", "", "the customer: its tenant id, a domain or its exact name (as batch plan shows it)")
	fl.BoolVarP(&o.opt.Yes, "yes", "y", false, "accept the tenant's plan (role fixes, audit logging, consent, mapping)")
	fl.BoolVar(&o.opt.DryRun, "dry-run", false, "sign in and discover, then stop before the first change (the consent bootstrap is one); writes nothing")
	fl.StringVar(&o.opt.Org, "org", "", "the platform organization (name or id); default: the one named exactly like the customer (a closest name is shown and must be confirmed, or --yes)")
	fl.BoolVar(&o.opt.Remap, "remap", false, "move a tenant that is mapped to another organization")
	fl.StringVar(wait, "wait", "0", "bound the health wait (e.g. 30m); 0 reads the health once and ends pending (exit 4) when data is not flowing yet")
}

func newPartnerOnboardCmd(g *globalFlags, io IO) *cobra.Command {
	f := &partnerFlags{}
	o := &onboardOne{g: g, io: io}
	var wait string
	c := &cobra.Command{
		Use:   "onboard",
		Short: "Onboard one GDAP customer with the partner sign-in (consent bootstrap, role fixes, mapping, health)",
		Long: `partner onboard signs the partner technician in (once; --token-cache file keeps it), reads the
partner side (as batch plan does) to find the customer's GDAP roles and organization, then runs the
tenant's onboarding in customer mode: the consent bootstrap through Partner Center (journaled;
"already exists" is recorded as found), fresh customer tokens (AADSTS65001 right after the consent
retried for 2 min 15 s at most), the prerequisites with "the GDAP relationship grants the roles"
instead of an active Global Administrator, the role fixes, consent and mapping, and the health.
Exchange calls are anchored at the tenant's system mailbox. Steps that need a role the relationship
lacks are handed off (exit 3) with what the customer must do. docs/gdap.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(o.tenant) == "" {
				return usageError("--tenant is required: the customer's tenant id, a domain or its exact name (see itdr-onboard batch plan)")
			}
			d, err := parseWait(wait)
			if err != nil {
				return err
			}
			o.opt.Wait = d
			pr, err := partnerRunFrom(cmd.Context(), g, io, f, true)
			if err != nil {
				return err
			}
			o.baseDir = g.stateDirOr(defaultStateDir())
			pr.after = o.after
			return exitCode(runPartner(cmd.Context(), g, io, pr))
		},
	}
	addPartnerFlags(c, f)
	addOnboardOneFlags(c, o, &wait)
	return c
}

// runPartnerOnboardDemo is `demo --partner --tenant NAME`: the partner
// simulator, one sign-in, then one simulated customer onboarded over GDAP.
func runPartnerOnboardDemo(ctx context.Context, g *globalFlags, io IO, customers int, seed int64, tenant string, opt customer.Options, simLog string) int {
	srv, sc, stop, code := startPartnerDemo(io, customers, seed, simLog)
	if srv == nil {
		return code
	}
	defer stop()
	if g.frontEnd(io) == "plain" {
		fmt.Fprintf(io.Out, "Demo: partner simulator with %d customers (seed %d) at %s; onboarding %s over GDAP\n", len(sc.Customers), sc.Seed, srv.URL(), tenant)
	}
	base := g.stateDirOr(filepath.Join(defaultStateDir(), "demo"))
	// The demo's consents propagate at once; a real one is waited for
	// with the documented bound (partner.DefaultBackoff).
	opt.ConsentBackoff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	o := &onboardOne{tenant: tenant, opt: opt, baseDir: base, g: g, io: io}
	pr := partnerRun{ep: srv.Endpoints(), tenant: srv.PartnerTenantID(), method: auth.MethodDevice,
		cache: auth.CacheMemory, stateDir: filepath.Join(base, "partner"), discover: true, now: io.Now, after: o.after}
	return runPartner(ctx, g, io, pr)
}
