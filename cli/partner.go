package cli

import (
	"bytes"
	"context"

	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"itdr-onboard/auth"
	"itdr-onboard/endpoints"
	"itdr-onboard/internal/atomicfile"
	"itdr-onboard/partner"
	"itdr-onboard/sim"
	"itdr-onboard/steps"
	"itdr-onboard/ui/batchview"
	"itdr-onboard/ui/plain"
	"itdr-onboard/ui/text"
)

// Partner (GDAP) commands: `partner sign-in`, `batch plan`, `demo --partner`
// (docs/gdap.md). Discovery is a flow of the step engine: sign-in, then
// the discovery step; the table is printed when the flow ends.

type partnerFlags struct {
	epFile, cloud, clientID, tenant, auth, tokenCache string
	csv, lane                                         string
}

func addPartnerFlags(c *cobra.Command, f *partnerFlags) {
	fl := c.Flags()
	fl.StringVar(&f.epFile, "endpoints", "", "an endpoints file (written by sim serve) instead of Microsoft's cloud")
	fl.StringVar(&f.cloud, "cloud", "", "Microsoft cloud: "+strings.Join(endpoints.Clouds(), ", "))
	fl.StringVar(&f.clientID, "client-id", "", "the partner's onboarding app (multi-tenant, public client flows on; see docs/gdap.md)")
	fl.StringVar(&f.tenant, "partner-tenant", "", "the partner tenant (GUID or domain); default: the tenant of the account that signs in")
	fl.StringVar(&f.auth, "auth", "auto", "sign-in method: auto, device, browser")
	fl.StringVar(&f.tokenCache, "token-cache", "memory", "memory (sign in every run) or file (keep the partner sign-in in the state directory; opt-in)")
}

type partnerRun struct {
	ep        endpoints.Endpoints
	tenant    string
	method    auth.Method
	cache     auth.CacheMode
	stateDir  string
	discover  bool
	csv, lane string
	// openBrowser plays the browser (demo).
	openBrowser func(string) error
	now         func() time.Time
	// after, when set, takes over once discovery is done (batch run and
	// resume): the discovery table is not printed, only its counts.
	after func(ctx context.Context, w *wiring, pc *partner.PartnerCenter, plan partner.Plan, mode string) int
	// wopt adjusts the wiring (a batch shares its upstream budgets).
	wopt func(*wireOptions)
}

// discoverer runs partner.Discover with the run's clients.
type discoverer struct {
	w   *wiring
	pc  *partner.PartnerCenter
	now func() time.Time
}

func (d discoverer) Discover(ctx context.Context) (partner.Plan, error) {
	acct, _ := d.w.auth.Account()
	src := partner.Sources{Graph: d.w.graph}
	if d.pc != nil {
		src.PC = d.pc
	}
	if d.w.platform != nil {
		src.Platform = d.w.platform
	}
	return partner.Discover(ctx, src, acct.Username, acct.TenantID, d.now())
}

// runPartner signs the partner user in (once: a cached sign-in is reused)
// and, with discover, runs the discovery step; it prints the plan in the
// chosen front-end and returns the exit code.
func runPartner(ctx context.Context, g *globalFlags, io IO, pr partnerRun) int {
	if pr.ep.ClientID == "" || pr.ep.ClientID == endpoints.DefaultClientID {
		fmt.Fprintln(io.Err, "error: partner flows need the partner's onboarding app: run itdr-onboard partner setup once (a partner administrator creates it and it is saved), or pass --client-id <app id> (a multi-tenant app in the partner tenant with public client flows on; docs/gdap.md lists its permissions). Microsoft Graph Command Line Tools cannot be consented in customer tenants over GDAP.")
		return ExitUsage
	}
	if pr.now == nil {
		pr.now = time.Now
	}
	log, err := openLog(g.logFile)
	if err != nil {
		fmt.Fprintln(io.Err, "error:", err)
		return ExitUsage
	}
	defer log.Close()
	wo := wireOptions{Endpoints: pr.ep, Tenant: pr.tenant, TokenCache: pr.cache, StateDir: pr.stateDir, OpenBrowser: pr.openBrowser, Log: log, Env: io.Env, Now: io.Now, PlatformOptional: true}
	if pr.wopt != nil {
		pr.wopt(&wo)
	}
	w, err := wire(wo)
	if err != nil {
		fmt.Fprintln(io.Err, "error:", err)
		return ExitUsage
	}
	defer w.closeIdle()
	var pc *partner.PartnerCenter
	if pr.ep.PartnerCenter != "" {
		pc = partner.NewPartnerCenter(w.hc, pr.ep.PartnerCenter, func(ctx context.Context) (string, error) {
			return w.auth.Token(ctx, pr.ep.PartnerCenterScope())
		})
	}
	opt := steps.Options{Tenant: pr.tenant, Yes: true}
	setAuthMethod(&opt, pr.method, io.Env)
	s := steps.NewSession(opt)
	if auth.IsGUID(pr.tenant) {
		s.TenantID = strings.ToLower(pr.tenant) // the wrong-tenant guard of sign-in
	}
	if acct, ok := w.auth.Account(); ok {
		s.Account, s.SignedIn = acct, true
	}
	disc := steps.NewDiscoveryStep()
	list := []steps.Step{steps.NewSignInStep()}
	if pr.discover {
		list = append(list, disc)
	}
	eng := steps.NewEngine(s, list...)
	x := w.executor(s, "")
	x.Receipts = nil // read-only: nothing to record
	x.Partner = discoverer{w: w, pc: pc, now: pr.now}
	r := steps.NewRunner(ctx, x, 4)
	defer r.Close()
	mode := g.frontEnd(io)
	var inner plain.Reporter
	switch mode {
	case "json":
		inner = &plain.JSON{W: io.Out, Now: io.Now}
	default:
		inner = &plain.Text{W: io.Out, Now: io.Now}
	}
	rep := &partnerReporter{inner: inner, mode: mode, io: io, disc: disc, lane: pr.lane, now: pr.now, quiet: pr.after != nil}
	code := plain.Run(ctx, eng, r, plain.Auto{Yes: true}, rep)
	if code != 0 {
		return code
	}
	if pr.after != nil && pr.discover {
		return pr.after(ctx, w, pc, disc.Plan(), mode)
	}
	if !pr.discover {
		return partnerMFAProbe(ctx, io, mode, pc, s)
	}
	plan := disc.Plan()
	rows := laneFilter(plan.Rows, pr.lane)
	if pr.csv != "" {
		var buf bytes.Buffer
		if err := batchview.WriteCSV(&buf, presentRows(plan, rows).Rows); err == nil {
			err = atomicfile.Write(pr.csv, buf.Bytes(), 0o600)
		}
		if err != nil {
			fmt.Fprintf(io.Err, "error: --csv %s: %v\n", pr.csv, err)
			return ExitFailed
		}
		if mode != "json" {
			fmt.Fprintf(io.Out, "CSV: %s (%d rows)\n", pr.csv, len(rows))
		}
	}
	if mode == "tui" {
		det := presentRows(plan, rows) // --lane applies to the table too
		if err := batchview.Run(ctx, det, io.In, io.Out); err != nil {
			fmt.Fprintln(io.Err, "the table could not be shown:", err)
			return ExitFailed
		}
		batchview.WriteText(io.Out, det, det.Rows, pr.now())
	}
	return 0
}

// partnerMFAProbe checks after `partner sign-in` that Partner Center takes
// the token (a 401 with 900421 means the sign-in carried no MFA claim).
func partnerMFAProbe(ctx context.Context, io IO, mode string, pc *partner.PartnerCenter, s *steps.Session) int {
	if pc == nil {
		if mode != "json" {
			fmt.Fprintln(io.Out, "Partner Center: not available for this cloud; discovery lists GDAP customers only.")
		}
		return 0
	}
	custs, err := pc.Customers(ctx)
	out := map[string]any{"time": time.Now().UTC().Format(time.RFC3339Nano), "step": "signin", "type": "partner_center"}
	if err != nil {
		pe, _ := partner.AsError(err)
		msg := err.Error()
		if pe.MFARequired() {
			msg = "Partner Center refused the sign-in: it carries no multi-factor authentication claim (401, error 900421; Partner Center requires MFA for App+User calls since 2026). Sign in again and complete MFA — make the partner tenant's Conditional Access or security defaults require MFA for this user."
		}
		if mode == "json" {
			out["ok"], out["message"] = false, msg
			b, _ := text.Marshal(out)
			fmt.Fprintln(io.Out, string(b))
		} else {
			fmt.Fprintln(io.Out, "Partner Center:", msg)
		}
		return ExitStopped
	}
	if mode == "json" {
		out["ok"], out["customers"] = true, len(custs)
		b, _ := text.Marshal(out)
		fmt.Fprintln(io.Out, string(b))
	} else {
		fmt.Fprintf(io.Out, "Partner Center: MFA claim accepted; %d customers.\n", len(custs))
	}
	return 0
}

// presentRows is the step's presentation of the plan, with only rows.
func presentRows(plan partner.Plan, rows []partner.Row) steps.DiscoveryDetail {
	all := steps.PresentPlan(plan)
	shown := plan
	shown.Rows = rows
	all.Rows = steps.PresentPlan(shown).Rows
	return all
}

func laneFilter(rows []partner.Row, lanes string) []partner.Row {
	if strings.TrimSpace(lanes) == "" {
		return rows
	}
	want := map[partner.Lane]bool{}
	for _, l := range strings.Split(lanes, ",") {
		want[partner.Lane(strings.TrimSpace(l))] = true
	}
	var out []partner.Row
	for _, r := range rows {
		if want[r.Lane] {
			out = append(out, r)
		}
	}
	return out
}

func validLanes(lanes string) error {
	if strings.TrimSpace(lanes) == "" {
		return nil
	}
	known := map[partner.Lane]bool{}
	var names []string
	for _, l := range partner.Lanes() {
		known[l] = true
		names = append(names, string(l))
	}
	for _, l := range strings.Split(lanes, ",") {
		if !known[partner.Lane(strings.TrimSpace(l))] {
			return usageError("--lane %q: use one or more of %s, comma-separated", strings.TrimSpace(l), strings.Join(names, ", "))
		}
	}
	return nil
}

// partnerReporter forwards the engine's events to the line or JSON
// reporter and prints the discovery table when the flow ends.
type partnerReporter struct {
	inner plain.Reporter
	mode  string
	io    IO
	disc  *steps.DiscoveryStep
	lane  string
	now   func() time.Time
	// quiet: a batch follows; only the discovery's counts are shown.
	quiet bool
}

func (p *partnerReporter) StepStarted(e *steps.Engine, st steps.Step) { p.inner.StepStarted(e, st) }
func (p *partnerReporter) Outcome(e *steps.Engine, id steps.ID, ev steps.Event) {
	p.inner.Outcome(e, id, ev)
}
func (p *partnerReporter) Answered(e *steps.Engine, q steps.Question, v string, auto bool) {
	p.inner.Answered(e, q, v, auto)
}

func (p *partnerReporter) Finished(e *steps.Engine, code int, err error) {
	s := e.Session()
	if err != nil || e.Failure() != nil || p.disc.Status() != steps.StatusDone {
		if err != nil || e.Failure() != nil {
			p.inner.Finished(e, code, err)
			return
		}
		// Sign-in only.
		if p.mode == "json" {
			p.emit(map[string]any{"step": "signin", "type": "finished", "exit_code": code, "outcome": "signed-in", "user": s.Account.Username, "tenant_id": s.Account.TenantID})
		} else {
			fmt.Fprintf(p.io.Out, "\nSigned in: %s\n", s.Who())
		}
		return
	}
	plan := p.disc.Plan()
	rows := laneFilter(plan.Rows, p.lane)
	if p.quiet {
		if p.mode == "json" {
			p.emit(map[string]any{"step": "discovery", "type": "discovered", "user": plan.User, "partner_tenant_id": plan.Partner, "customers": len(plan.Rows), "counts": plan.Counts, "notes": plan.Notes})
			return
		}
		var parts []string
		for _, l := range partner.Lanes() {
			if n := plan.Counts[l]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, l))
			}
		}
		fmt.Fprintf(p.io.Out, "\nDiscovery: %d customers (%s); signed in as %s\n", len(plan.Rows), strings.Join(parts, ", "), text.Line(plan.User))
		for _, n := range plan.Notes {
			fmt.Fprintf(p.io.Out, "  note: %s\n", text.Line(n))
		}
		return
	}
	switch p.mode {
	case "json":
		for _, r := range rows {
			p.emit(map[string]any{"step": "discovery", "type": "customer", "customer": r})
		}
		p.emit(map[string]any{"step": "discovery", "type": "finished", "exit_code": code, "outcome": "discovered",
			"user": plan.User, "partner_tenant_id": plan.Partner, "customers": len(plan.Rows), "counts": plan.Counts, "notes": plan.Notes})
	case "plain":
		det := presentRows(plan, rows)
		batchview.WriteText(p.io.Out, det, det.Rows, p.now())
	default:
		// The TUI table follows.
	}
}

func (p *partnerReporter) emit(m map[string]any) {
	m["time"] = p.now().UTC().Format(time.RFC3339Nano)
	b, err := text.Marshal(m)
	if err != nil {
		return
	}
	fmt.Fprintln(p.io.Out, string(b))
}

func partnerRunFrom(ctx context.Context, g *globalFlags, io IO, f *partnerFlags, discover bool) (partnerRun, error) {
	m, err := auth.ParseMethod(f.auth)
	if err != nil {
		return partnerRun{}, usageError("%v", err)
	}
	cache, err := auth.ParseCacheMode(f.tokenCache)
	if err != nil {
		return partnerRun{}, usageError("--token-cache: %v", err)
	}
	if f.tenant != "" {
		if err := auth.ValidateTenantFlag(f.tenant); err != nil {
			return partnerRun{}, usageError("--partner-tenant: %v", err)
		}
	}
	if err := validLanes(f.lane); err != nil {
		return partnerRun{}, err
	}
	ep, err := selectEndpoints(ctx, connFlags{endpointsFile: f.epFile, cloud: f.cloud, clientID: f.clientID}, f.tenant, io.Err)
	if err != nil {
		return partnerRun{}, err
	}
	dir := partnerStateDir(g)
	if f.clientID == "" {
		// The onboarding app partner setup saved beats the endpoints
		// file's and the default client.
		saved, err := savedClientID(dir, f.tenant)
		if err != nil {
			return partnerRun{}, usageError("%v", err)
		}
		if saved != "" {
			ep.ClientID = saved
		}
	}
	return partnerRun{ep: ep, tenant: f.tenant, method: m, cache: cache, discover: discover, csv: f.csv, lane: f.lane,
		stateDir: dir}, nil
}

func newPartnerCmd(g *globalFlags, io IO) *cobra.Command {
	c := &cobra.Command{Use: "partner", Short: "Partner (MSP) commands over GDAP: sign-in once for every customer"}
	f := &partnerFlags{}
	signin := &cobra.Command{
		Use:   "sign-in",
		Short: "Sign in once as the partner technician (partner authority, MFA checked with Partner Center)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pr, err := partnerRunFrom(cmd.Context(), g, io, f, false)
			if err != nil {
				return err
			}
			return exitCode(runPartner(cmd.Context(), g, io, pr))
		},
	}
	addPartnerFlags(signin, f)
	c.AddCommand(signin, newPartnerSetupCmd(g, io), newPartnerOnboardCmd(g, io))
	return c
}

func newBatchCmd(g *globalFlags, io IO) *cobra.Command {
	c := &cobra.Command{Use: "batch", Short: "Many customer tenants over GDAP: plan, run, resume, status, hand-offs"}
	f := &partnerFlags{}
	plan := &cobra.Command{
		Use:   "plan",
		Short: "Read-only: which customers this technician can onboard, the lane of each and its remedy",
		Long: `batch plan signs the partner technician in (once) and reads the partner side only — GDAP
relationships (Microsoft-led MLT_* ones left out), their access assignments (Graph $batch), the
technician's security groups, Partner Center customers and the platform's organizations — then
shows one row per customer: the needed roles ✓/✗ and a lane (ready, settling, partial,
not-assigned, no-gdap, connected, conflict) with the exact remedy. No request reaches a customer
tenant. --csv FILE exports the rows; --lane filters them; the TUI filters with /.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pr, err := partnerRunFrom(cmd.Context(), g, io, f, true)
			if err != nil {
				return err
			}
			return exitCode(runPartner(cmd.Context(), g, io, pr))
		},
	}
	addPartnerFlags(plan, f)
	plan.Flags().StringVar(&f.csv, "csv", "", "also write the rows to this CSV file")
	plan.Flags().StringVar(&f.lane, "lane", "", "only these lanes (comma-separated)")
	c.AddCommand(plan)
	newBatchSubcommands(c, g, io) // cli/batch.go
	return c
}

// startPartnerDemo starts the partner simulator of a demo: the built-in
// customers, or --customers N from --seed, its request log in --sim-log.
// On bad input or a failed start it says why and returns a nil server and
// the exit code; stop closes the server and the log.
func startPartnerDemo(io IO, customers int, seed int64, simLog string) (*sim.PartnerServer, *sim.PartnerScenario, func(), int) {
	if customers < 1 || customers > 5000 {
		fmt.Fprintln(io.Err, "error: --customers must be between 1 and 5000")
		return nil, nil, nil, ExitUsage
	}
	sc := sim.PartnerDemoScenario()
	if customers != sim.DefaultPartnerCustomers || seed != sc.Seed {
		sc = sim.GeneratePartnerScenario(customers, seed)
	}
	so := sim.Options{}
	var lf *os.File
	if simLog != "" {
		var err error
		lf, err = os.OpenFile(simLog, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			fmt.Fprintf(io.Err, "error: --sim-log %s: %v\n", simLog, err)
			return nil, nil, nil, ExitUsage
		}
		so.Log = lf
	}
	srv, err := sim.StartPartner(sc, so)
	if err != nil {
		if lf != nil {
			lf.Close()
		}
		fmt.Fprintln(io.Err, "error:", err)
		return nil, nil, nil, ExitFailed
	}
	return srv, sc, func() {
		srv.Close()
		if lf != nil {
			lf.Close()
		}
	}, 0
}

// runPartnerDemo is `demo --partner`: the partner simulator with the
// built-in 25 customers (or --customers N, --seed), one sign-in, the
// discovery table.
func runPartnerDemo(ctx context.Context, g *globalFlags, io IO, customers int, seed int64, csvPath, lane, simLog string, yes bool) int {
	if err := validLanes(lane); err != nil {
		fmt.Fprintln(io.Err, "error:", err)
		return ExitUsage
	}
	srv, sc, stop, code := startPartnerDemo(io, customers, seed, simLog)
	if srv == nil {
		return code
	}
	defer stop()
	if g.frontEnd(io) == "plain" {
		fmt.Fprintf(io.Out, "Demo: partner simulator with %d customers (seed %d) at %s; partner tenant %s\n", len(sc.Customers), sc.Seed, srv.URL(), srv.PartnerTenantID())
	}
	base := g.stateDirOr(filepath.Join(defaultStateDir(), "demo"))
	pr := partnerRun{ep: srv.Endpoints(), tenant: srv.PartnerTenantID(), method: auth.MethodDevice,
		cache: auth.CacheMemory, stateDir: filepath.Join(base, "partner"), discover: true, csv: csvPath, lane: lane, now: io.Now}
	if yes {
		// demo --partner --yes: the batch over every simulated customer.
		now := io.Now
		if now == nil {
			now = time.Now
		}
		br := &batchRun{f: batchFlags{all: true, parallel: 4, yes: true, healthWait: 2 * time.Minute, healthPoll: 5 * time.Second},
			baseDir: base, clientID: pr.ep.ClientID, io: io, now: now, color: g.color(io), consentBackoff: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}}
		pr.after = br.after
	}
	return runPartner(ctx, g, io, pr)
}

// servePartner is `sim serve --partner`: the partner simulator until ctrl+c,
// with an endpoints file for `batch plan --endpoints` / `partner sign-in`.
func servePartner(ctx context.Context, io IO, customers int, seed int64, epOut, logPath, addr, app string) error {
	if customers < 1 || customers > 5000 {
		return usageError("--customers must be between 1 and 5000")
	}
	appState, ok := map[string]string{"ready": sim.PartnerAppReady, "absent": sim.PartnerAppAbsent, "hand-made": sim.PartnerAppHandMade}[app]
	if !ok {
		return usageError("--app %q: use ready, absent or hand-made", app)
	}
	so := sim.Options{Addr: addr}
	if logPath != "" {
		lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return usageError("--log %s: %v", logPath, err)
		}
		defer lf.Close()
		so.Log = lf
	}
	sc := sim.GeneratePartnerScenario(customers, seed)
	sc.Partner.App = appState
	srv, err := sim.StartPartner(sc, so)
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := srv.Endpoints().Save(epOut); err != nil {
		return fmt.Errorf("writing %s: %w", epOut, err)
	}
	fmt.Fprintf(io.Out, "Simulating partner %q (%s) with %d customers (seed %d) at %s\n", sc.Partner.DisplayName, srv.PartnerTenantID(), len(sc.Customers), seed, srv.URL())
	fmt.Fprintf(io.Out, "Endpoints file: %s (client id = the partner's onboarding app)\n", epOut)
	if appState != sim.PartnerAppReady {
		fmt.Fprintf(io.Out, "Onboarding app: %s — first run:  itdr-onboard partner setup --endpoints %s", app, epOut)
		if appState == sim.PartnerAppHandMade {
			fmt.Fprintf(io.Out, " --client-id %s", sc.Partner.AppID)
		}
		fmt.Fprintln(io.Out)
	}
	fmt.Fprintf(io.Out, "Run:  itdr-onboard batch plan --endpoints %s\n", epOut)
	fmt.Fprintln(io.Out, "Press ctrl+c to stop.")
	<-ctx.Done()
	return nil
}
