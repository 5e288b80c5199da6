package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"itdr-onboard/batch"
	"itdr-onboard/customer"
	"itdr-onboard/endpoints"
	"itdr-onboard/partner"
	"itdr-onboard/state"
	"itdr-onboard/steps"
	"itdr-onboard/ui/batchview"
	"itdr-onboard/ui/plain"
	"itdr-onboard/ui/text"
	"itdr-onboard/ui/tui"
)

// Batch run over GDAP (issue 21): `batch run`, `batch resume`,
// `batch status`, `batch handoff`, and `demo --partner --yes`. Sign-in and
// discovery are the partner flow (cli/partner.go); then the batch package
// matches organizations, shows one combined plan, asks once, writes the
// manifest and runs every tenant's customer flow with N workers.

type batchFlags struct {
	tenantsFile string
	allReady    bool
	all         bool
	orgMap      string
	parallel    int
	yes         bool
	healthWait  time.Duration
	settleWait  time.Duration
	healthPoll  time.Duration
	batchID     string
	csvOut      string
	mdOut       string
}

// batchRun is one `batch run` or `batch resume` after discovery.
type batchRun struct {
	f        batchFlags
	baseDir  string          // the state dir (tenants/, batches/)
	resume   *batch.Manifest // resume: the manifest to continue
	progress *batch.Progress
	clientID string
	io       IO
	now      func() time.Time
	// runner replaces the customer flow (tests).
	runner batch.Runner
	// consentBackoff shortens the customer flow's 65001 wait (demo).
	consentBackoff []time.Duration
	// color: the watch screen may use colours.
	color bool
	// chosen are the tenant ids picked in the discovery table (TUI).
	chosen []string
}

func (br *batchRun) after(ctx context.Context, w *wiring, pc *partner.PartnerCenter, plan partner.Plan, mode string) int {
	io := br.io
	fail := func(code int, format string, a ...any) int {
		msg := fmt.Sprintf(format, a...)
		if mode == "json" {
			(&plain.BatchJSON{W: io.Out, Now: br.now}).Event(steps.BatchEvent{Time: br.now(), Type: "error", Message: msg})
		} else {
			fmt.Fprintln(io.Err, "error:", msg)
		}
		return code
	}
	if w.platform == nil {
		return fail(ExitUsage, "a batch maps tenants on the platform: set ITDR_API_KEY and ITDR_API_SECRET (or use an endpoints file that has them)")
	}
	if pc == nil {
		return fail(ExitUsage, "a batch needs Partner Center for the consent bootstrap; this cloud has none configured")
	}
	sp := batch.NewSharedPlatform(w.platform)
	app, err := sp.App(ctx)
	if err != nil {
		return fail(ExitFailed, "reading the platform's app: %v", err)
	}
	var m *batch.Manifest
	if br.resume != nil {
		m = br.resume
		// One run per batch: a second `batch resume` of the same batch would
		// write its manifest and progress beside this one.
		unlock, code, ok := br.lockBatch(m.ID, fail)
		if !ok {
			return code
		}
		defer unlock()
		rederive(m, plan)
	} else {
		if mode == "tui" && br.f.tenantsFile == "" && !br.f.allReady && !br.f.all {
			// Pick the tenants in the discovery table (space, a, n, filter).
			ids, err := batchview.Select(ctx, steps.PresentPlan(plan), io.In, io.Out)
			if err != nil {
				return fail(ExitStopped, "%v", err)
			}
			br.chosen = ids
		}
		m, err = br.newManifest(ctx, sp, plan)
		if err != nil {
			return fail(ExitUsage, "%v", err)
		}
		if code, ok := br.confirm(mode, m); !ok {
			return code
		}
		unlock, code, ok := br.lockBatch(m.ID, fail)
		if !ok {
			return code
		}
		defer unlock()
		if _, err := batch.SaveManifest(br.baseDir, m); err != nil {
			return fail(ExitFailed, "writing the batch manifest: %v", err)
		}
	}
	if br.resume != nil {
		// The re-derived lanes are the manifest from now on.
		if _, err := batch.SaveManifest(br.baseDir, m); err != nil {
			return fail(ExitFailed, "writing the batch manifest: %v", err)
		}
	}
	runner := br.runner
	if runner == nil {
		acct, _ := w.auth.Account()
		runner = batch.CustomerRunner{Deps: customer.Deps{Endpoints: w.ep, HTTP: w.hc, Token: w.auth.TokenForTenant, Account: acct,
			PartnerCenter: pc, Platform: sp, StateDir: br.baseDir, Now: w.now},
			Options: customer.Options{ConsentBackoff: br.consentBackoff}, Forget: w.auth.ForgetTenant}
	}
	var sink interface {
		Event(steps.BatchEvent)
		Summary(steps.BatchSnapshot, int)
	}
	if mode == "json" {
		sink = &plain.BatchJSON{W: io.Out, Now: br.now}
	} else {
		sink = &plain.BatchText{W: io.Out, Now: br.now, Width: summaryWidth(io, mode)}
	}
	onEvent := sink.Event
	if mode == "tui" {
		onEvent = nil // the watch screen draws the snapshots
	}
	b := batch.New(batch.Config{StateDir: br.baseDir, Manifest: m, Progress: br.progress, Runner: runner, Health: sp,
		ConsentURL: app.AdminConsentURL, RunPartial: true, OnEvent: onEvent, Now: br.now, Budgets: budgetViews(w.budgets)})
	var snap steps.BatchSnapshot
	if mode == "tui" {
		// The watch screen (ui/tui) over the running batch; quitting it
		// stops the batch (batch resume goes on).
		bctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); snap, err = b.Run(bctx) }()
		if tui.RunWatch(ctx, b, tui.WatchOptions{NoColor: !br.color, Input: io.In, Output: io.Out, Now: br.now}) == ExitInterrupted {
			cancel()
		}
		<-done
		cancel()
	} else {
		snap, err = b.Run(ctx)
	}
	code := batch.ExitCode(snap)
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(io.Err, "error:", err)
		if code == batch.ExitAllDone {
			code = ExitFailed
		}
	}
	sink.Summary(snap, code)
	return code
}

// lockBatch takes the batch's lock (<state-dir>/batches/<id>/lock); a live
// holder is refused with exit 3, naming it and the lock file.
func (br *batchRun) lockBatch(id string, fail func(int, string, ...any) int) (func(), int, bool) {
	l, err := state.Store{Dir: br.baseDir}.AcquireDirLock(batch.Dir(br.baseDir, id), "batch "+id, "batch", br.now())
	if err != nil {
		return nil, fail(ExitStopped, "%v", err), false
	}
	return func() { l.Release() }, 0, true
}

// rederive updates the manifest's lanes from a fresh discovery (a
// relationship may have been approved meanwhile).
func rederive(m *batch.Manifest, plan partner.Plan) {
	by := map[string]partner.Row{}
	for _, r := range plan.Rows {
		by[strings.ToLower(r.TenantID)] = r
	}
	for i := range m.Tenants {
		t := &m.Tenants[i]
		r, ok := by[strings.ToLower(t.TenantID)]
		if !ok {
			continue // no longer discovered: keep what the manifest says
		}
		if (r.Lane == partner.LaneConnected || r.Lane == partner.LaneConflict) && t.Lane != partner.LaneConnected && t.Lane != partner.LaneConflict {
			// Mapped by this batch's interrupted run: its flow goes on
			// (and finds the mapping in place).
			continue
		}
		t.Lane, t.Row = r.Lane, r
	}
	m.User, m.Partner = plan.User, plan.Partner
}

func (br *batchRun) newManifest(ctx context.Context, sp *batch.SharedPlatform, plan partner.Plan) (*batch.Manifest, error) {
	sel := batch.Selection{AllReady: br.f.allReady, All: br.f.all}
	how := "all"
	switch {
	case br.f.tenantsFile != "":
		ids, err := batch.ReadTenantsFile(br.f.tenantsFile)
		if err != nil {
			return nil, err
		}
		sel.Tenants, how = ids, "tenants-file"
	case br.f.allReady:
		how = "all-ready"
	case len(br.chosen) > 0:
		sel.Tenants, how = br.chosen, "chosen"
	}
	rows, err := batch.Select(plan.Rows, sel)
	if err != nil {
		return nil, err
	}
	var om batch.OrgMap
	if br.f.orgMap != "" {
		if om, err = batch.ReadOrgMap(br.f.orgMap); err != nil {
			return nil, err
		}
	}
	orgs, err := sp.AllOrganizations(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("reading the platform's organizations: %w", err)
	}
	now := br.now()
	m := &batch.Manifest{Version: 1, ID: batch.NewID(now), Created: now.UTC(), User: plan.User, Partner: plan.Partner, ClientID: br.clientID,
		Options: batch.Options{Parallel: br.f.parallel, SettleWait: br.f.settleWait, HealthWait: br.f.healthWait, HealthPoll: br.f.healthPoll, OrgMap: br.f.orgMap, Selection: how}.WithDefaults()}
	for _, r := range rows {
		t, err := batch.Match(r, orgs, om)
		if err != nil {
			return nil, err
		}
		m.Tenants = append(m.Tenants, t)
	}
	return m, nil
}

// planSteps is what the batch will do in one tenant, by lane, and the
// detail under it: the steps, why it is skipped (never the lane again: the
// plan line shows it) or what the customer must do. A settling tenant
// ready beyond --settle-wait is skipped, as the batch will do.
func planSteps(t batch.Tenant, id string, settleWait time.Duration, now time.Time) (string, string) {
	full := "consent bootstrap · role fixes · service principal · directory roles · audit logging · mapping"
	switch t.Lane {
	case partner.LaneReady:
		return "run", full
	case partner.LaneSettling:
		at := "now"
		if t.Row.ReadyAt != nil {
			at = t.Row.ReadyAt.UTC().Format("15:04 MST")
			if t.Row.ReadyAt.Sub(now) > settleWait {
				return "skip", "Microsoft propagates the relationship until " + at + " (beyond --settle-wait " + batch.ShortDuration(settleWait) + "): `itdr-onboard batch resume --batch " + id + "` after it"
			}
		}
		return "run", full + " (after " + at + ")"
	case partner.LanePartial:
		return "run", full + "; handed off: " + strings.Join(t.Row.HandOff, "; ")
	case partner.LaneConnected:
		return "skip", "its integration is in place on the platform: left as it is"
	case partner.LaneConflict:
		return "skip", "mapped to another organization (" + t.Row.Organization + "): left alone"
	}
	return "hand off", t.Row.Remedy
}

// confirm shows the combined plan and asks once (or takes --yes).
func (br *batchRun) confirm(mode string, m *batch.Manifest) (int, bool) {
	io := br.io
	run := 0
	if mode == "json" {
		var ts []map[string]any
		for _, t := range m.Tenants {
			what, detail := planSteps(t, m.ID, m.Options.SettleWait, br.now())
			if what == "run" {
				run++
			}
			ts = append(ts, map[string]any{"tenant_id": t.TenantID, "tenant": t.Name, "lane": t.Lane, "action": what, "steps": detail,
				"organization": t.Org, "organization_id": t.OrgID, "organization_note": t.OrgNote})
		}
		(&plain.BatchJSON{W: io.Out, Now: br.now}).Event(steps.BatchEvent{Time: br.now(), Type: "plan", Fields: map[string]any{"batch_id": m.ID, "tenants": ts, "to_run": run, "parallel": m.Options.Parallel}})
	} else {
		fmt.Fprintf(io.Out, "\nPlan of batch %s (%d tenants, %d at a time):\n", m.ID, len(m.Tenants), m.Options.Parallel)
		for _, t := range m.Tenants {
			what, detail := planSteps(t, m.ID, m.Options.SettleWait, br.now())
			if what == "run" {
				run++
			}
			org := ""
			if what == "run" {
				org = " → " + t.Org
				if t.OrgID == "" {
					org = " → no organization"
				}
			}
			fmt.Fprintln(io.Out, strings.TrimRight(fmt.Sprintf("  %-26s %-13s %-8s%s", text.Line(t.Name), t.Lane, what, text.Line(org)), " "))
			fmt.Fprintf(io.Out, "      %s\n", text.Line(detail))
			if t.OrgNote != "" && what == "run" {
				fmt.Fprintf(io.Out, "      warning: %s\n", text.Line(t.OrgNote))
			}
		}
	}
	if br.f.yes {
		return 0, true
	}
	if !io.IsTTY || mode == "json" {
		fmt.Fprintln(io.Err, "error: the batch changes", run, "tenants — no terminal to ask on; answer it with --yes")
		return ExitUsage, false
	}
	fmt.Fprintf(io.Out, "Onboard %d tenants now? [y/N] ", run)
	ans, err := plain.NewLines(io.In).Next(context.Background())
	if err != nil || !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ans)), "y") {
		fmt.Fprintln(io.Out, "Nothing changed.")
		return ExitStopped, false
	}
	return 0, true
}

func addBatchFlags(c *cobra.Command, f *batchFlags, run bool) {
	fl := c.Flags()
	if run {
		fl.StringVar(&f.tenantsFile, "tenants", "", "a file naming the tenants to onboard: one tenant id or domain per line")
		fl.BoolVar(&f.allReady, "all-ready", false, "onboard every customer in the ready lane")
		fl.BoolVar(&f.all, "all", false, "every customer discovered: those that need their customer are handed off, connected ones skipped")
		fl.StringVar(&f.orgMap, "org-map", "", "a CSV of tenant,organization lines (tenant id, domain or name; organization id or name) for names that differ")
		fl.IntVar(&f.parallel, "parallel", 4, "how many tenants run at once (the upstream budgets bound the requests)")
		fl.BoolVar(&f.yes, "yes", false, "accept the combined plan without asking")
		fl.DurationVar(&f.healthWait, "health-wait", 15*time.Minute, "watch health (one request per interval for the whole batch) this long after the last tenant's flow; 0: do not wait")
		fl.DurationVar(&f.settleWait, "settle-wait", 20*time.Minute, "wait in the batch for a settling tenant whose relationship is ready within this; later ones are left for batch resume")
		fl.DurationVar(&f.healthPoll, "health-poll", 30*time.Second, "the interval of the batch's health request")
	}
	if !run {
		fl.StringVar(&f.batchID, "batch", "", "the batch id (default: the newest)")
	}
}

func newBatchSubcommands(c *cobra.Command, g *globalFlags, io IO) {
	rf, rb := &partnerFlags{}, &batchFlags{}
	run := &cobra.Command{
		Use:   "run",
		Short: "Onboard many customer tenants over GDAP: one sign-in, one plan, one confirmation",
		Long: `batch run signs the partner technician in once, discovers the customers (as batch plan),
takes the tenants chosen by --tenants FILE, --all-ready or --all, matches each to a platform
organization (exact name; a best match is shown with a warning; --org-map FILE for the rest),
shows one combined plan and asks once (or --yes). Then --parallel N workers run every tenant
through the customer flow (consent bootstrap, role fixes, service principal, directory roles,
audit logging, mapping), each with its own receipt, journal and lock; health is watched with
one platform request per interval. Tenants that need their customer are handed off with the
reason, what to do and one link. The manifest is in the state directory before work starts:
after ctrl+c, a crash or an SSH drop, batch resume continues.

Exit codes: 0 every tenant healthy or skipped, 1 a tenant failed, 2 usage, 3 declined,
4 some tenants pending (mapped, no data yet), 5 some handed off, 130 interrupted (batch resume).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n := 0
			for _, on := range []bool{rb.tenantsFile != "", rb.allReady, rb.all} {
				if on {
					n++
				}
			}
			if n > 1 || n == 0 && g.frontEnd(io) != "tui" {
				return usageError("choose the tenants with exactly one of --tenants FILE, --all-ready or --all (in a terminal, without them, pick them from the discovery table)")
			}
			if rb.parallel < 1 || rb.parallel > 64 {
				return usageError("--parallel must be between 1 and 64")
			}
			pr, err := partnerRunFrom(cmd.Context(), g, io, rf, true)
			if err != nil {
				return err
			}
			br := &batchRun{f: *rb, baseDir: g.stateDirOr(defaultStateDir()), clientID: pr.ep.ClientID, io: io, now: time.Now, color: g.color(io)}
			pr.after = br.after
			return exitCode(runPartner(cmd.Context(), g, io, pr))
		},
	}
	addPartnerFlags(run, rf)
	addBatchFlags(run, rb, true)
	c.AddCommand(run)

	sf, sb := &partnerFlags{}, &batchFlags{}
	resume := &cobra.Command{
		Use:   "resume",
		Short: "Continue a batch after ctrl+c, a crash or an SSH drop: lanes re-derived, done tenants stay done",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			base := g.stateDirOr(defaultStateDir())
			id, err := pickBatch(base, sb.batchID, true)
			if err != nil && sb.batchID == "" {
				var again int
				if id, again, err = batch.ToResume(base); err == nil {
					fmt.Fprintf(io.Err, "Every batch has finished; resuming the newest, %s, for its %d tenant(s) handed off or failed (lanes read again).\n", id, again)
				}
			}
			if err != nil {
				return usageError("%v", err)
			}
			m, err := batch.LoadManifest(base, id)
			if err != nil {
				return usageError("batch %s: %v", id, err)
			}
			p, err := batch.LoadProgress(base, id)
			if err != nil {
				return usageError("batch %s: %v", id, err)
			}
			if sf.clientID == "" {
				sf.clientID = m.ClientID
			}
			pr, err := partnerRunFrom(cmd.Context(), g, io, sf, true)
			if err != nil {
				return err
			}
			br := &batchRun{baseDir: base, resume: m, progress: p, clientID: pr.ep.ClientID, io: io, now: time.Now, color: g.color(io)}
			pr.after = br.after
			return exitCode(runPartner(cmd.Context(), g, io, pr))
		},
	}
	addPartnerFlags(resume, sf)
	addBatchFlags(resume, sb, false)
	c.AddCommand(resume)

	stb, stc := &batchFlags{}, &connFlags{}
	status := &cobra.Command{
		Use:   "status",
		Short: "Where a batch stands: its pending tenants' health read now (one platform request), the rest as recorded",
		Long: `batch status shows a batch from the state directory. When some tenants are pending (mapped,
waiting for data) and platform credentials are available (ITDR_API_KEY and ITDR_API_SECRET, or the
--endpoints file that has them), it first reads their health with ONE platform request — the batch
health wait's own — and records it as the health wait does (progress, batch receipt, hand-off files).
Without credentials, while a run of the batch holds it, or when the platform does not answer, it says
so and shows the state as recorded. No sign-in.

Exit codes: as batch run (0 every tenant healthy or skipped, 1 a tenant failed, 4 some pending,
5 some handed off, 130 not finished).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			base := g.stateDirOr(defaultStateDir())
			id, err := pickBatch(base, stb.batchID, false)
			if err != nil {
				return usageError("%v", err)
			}
			return exitCode(batchStatus(cmd.Context(), g, io, id, *stc))
		},
	}
	addBatchFlags(status, stb, false)
	status.Flags().StringVar(&stc.endpointsFile, "endpoints", "", "an endpoints file (written by sim serve) with the platform's address and credentials")
	status.Flags().StringVar(&stc.cloud, "cloud", "", "Microsoft cloud of the platform: "+strings.Join(endpoints.Clouds(), ", "))
	c.AddCommand(status)

	hb := &batchFlags{}
	handoff := &cobra.Command{
		Use:   "handoff",
		Short: "Export the tenants that need their customer as CSV and Markdown (for a ticket)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			base := g.stateDirOr(defaultStateDir())
			id, err := pickBatch(base, hb.batchID, false)
			if err != nil {
				return usageError("%v", err)
			}
			snap, err := batch.SnapshotFromDisk(base, id, time.Now())
			if err != nil {
				return usageError("batch %s: %v", id, err)
			}
			rows := batch.HandOffRows(snap)
			csvPath, mdPath := hb.csvOut, hb.mdOut
			if csvPath == "" {
				csvPath = filepath.Join(batch.Dir(base, id), batch.HandoffCSV)
			}
			if mdPath == "" {
				mdPath = filepath.Join(batch.Dir(base, id), batch.HandoffMD)
			}
			for _, out := range []struct {
				path  string
				write func(f *os.File) error
			}{
				{csvPath, func(f *os.File) error { return batch.WriteHandOffCSV(f, rows) }},
				{mdPath, func(f *os.File) error { return batch.WriteHandOffMarkdown(f, id, rows) }},
			} {
				f, err := os.OpenFile(out.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
				if err != nil {
					return usageError("%s: %v", out.path, err)
				}
				err = out.write(f)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					fmt.Fprintln(io.Err, "error:", err)
					return exitCode(ExitFailed)
				}
			}
			if g.json {
				(&plain.BatchJSON{W: io.Out}).Event(steps.BatchEvent{Time: time.Now(), Type: "handoff_export", Fields: map[string]any{"batch_id": id, "tenants": len(rows), "csv": csvPath, "markdown": mdPath}})
			} else {
				fmt.Fprintf(io.Out, "%d hand-offs of batch %s:\n  CSV:      %s\n  Markdown: %s\n", len(rows), id, csvPath, mdPath)
			}
			return nil
		},
	}
	addBatchFlags(handoff, hb, false)
	handoff.Flags().StringVar(&hb.csvOut, "csv", "", "write the CSV here (default: handoff.csv in the batch's directory)")
	handoff.Flags().StringVar(&hb.mdOut, "md", "", "write the Markdown here (default: handoff.md in the batch's directory)")
	c.AddCommand(handoff)
}

func pickBatch(base, id string, unfinished bool) (string, error) {
	if id != "" {
		return batch.Resolve(base, id)
	}
	return batch.Latest(base, unfinished)
}
