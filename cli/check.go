package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
	"itdr-onboard/sim"
	"itdr-onboard/steps"
	"itdr-onboard/ui/plain"
	"itdr-onboard/ui/text"
)

// checkFlags are the flags of `check`.
type checkFlags struct {
	tenant, epFile, cloud, clientID, auth, cache string
	demo, scenarioSet                            bool
	scenario                                     string
	timeout                                      time.Duration
	parallel                                     int
}

// newCheckCmd is `check`: sign in like onboard, run every check read-only
// and print the report (exit 0 all pass, 3 anything failing).
func newCheckCmd(g *globalFlags, io IO) *cobra.Command {
	f := &checkFlags{}
	c := &cobra.Command{
		Use:   "check",
		Short: "Read-only prerequisites report for a tenant (changes nothing)",
		Long: `check signs in exactly like onboard (device code or browser), runs every
prerequisite and role check without changing anything, and prints one row per
check: its outcome, what it verified, the remedy, and the changes onboard would
make. --json prints the report document (docs/check-report.schema.json).

Exit codes: 0 every check passed (warnings allowed), 3 a check failed or the
sign-in was stopped (wrong tenant, blocked), 1 error, 2 usage, 130 interrupted.

--demo runs the same against the embedded tenant simulator (--scenario NAME|PATH).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.scenarioSet = cmd.Flags().Changed("scenario")
			return exitCode(runCheck(cmd.Context(), g, io, f))
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.tenant, "tenant", "", "the customer tenant: its GUID or one of its verified domains (the sign-in must be for this tenant)")
	fl.StringVar(&f.epFile, "endpoints", "", "an endpoints file (written by sim serve) instead of Microsoft's cloud")
	fl.StringVar(&f.cloud, "cloud", "", "Microsoft cloud: global, usgov, usgovdod, china (default global)")
	fl.StringVar(&f.clientID, "client-id", "", "the public client application to sign in with (default: Microsoft Graph Command Line Tools)")
	fl.StringVar(&f.auth, "auth", "auto", "sign-in method: auto (device code when headless, else browser; switches when a tenant blocks device code), device, browser")
	fl.StringVar(&f.cache, "token-cache", "memory", "where tokens live: memory (default), file (0600 in the state dir), keyring")
	fl.BoolVar(&f.demo, "demo", false, "check a simulated tenant (the embedded tenant simulator) instead of a real one")
	fl.StringVar(&f.scenario, "scenario", "typical", "with --demo: built-in scenario name or a scenario file")
	fl.DurationVar(&f.timeout, "check-timeout", 45*time.Second, "per-check time limit")
	fl.IntVar(&f.parallel, "parallel", 4, "how many checks run at once")
	_ = fl.MarkHidden("check-timeout")
	_ = fl.MarkHidden("parallel")
	return c
}

func runCheck(ctx context.Context, g *globalFlags, io IO, f *checkFlags) int {
	fail := func(err error) int {
		fmt.Fprintln(io.Err, "error:", text.Sanitize(err.Error()))
		if _, ok := err.(*usageErr); ok {
			return ExitUsage
		}
		return ExitFailed
	}
	m, err := auth.ParseMethod(f.auth)
	if err != nil {
		return fail(usageError("%v", err))
	}
	if err := auth.ValidateTenantFlag(f.tenant); err != nil {
		return fail(usageError("%v", err))
	}
	if f.demo && (f.epFile != "" || f.cloud != "") {
		return fail(usageError("--demo cannot be combined with --endpoints or --cloud"))
	}
	if !f.demo && f.scenarioSet {
		return fail(usageError("--scenario needs --demo"))
	}
	if f.timeout <= 0 || f.parallel <= 0 {
		return fail(usageError("--check-timeout and --parallel must be positive"))
	}
	cm, err := auth.ParseCacheMode(f.cache)
	if err != nil {
		return fail(usageError("%v", err))
	}
	log, err := openLog(g.logFile)
	if err != nil {
		return fail(err)
	}
	defer log.Close()

	// Progress (sign-in prompts) goes to stdout in plain mode; with --json
	// stdout carries only the report, so progress goes to stderr.
	progress := io.Out
	if g.json {
		progress = io.Err
	}

	// A read-only report needs no platform: without its credentials the
	// platform checks are reported as skipped and the tenant checks run.
	wo := wireOptions{Tenant: f.tenant, TokenCache: cm, Log: log, PlatformOptional: true}
	stateDir := g.stateDirOr(defaultStateDir())
	if f.demo {
		sc, err := sim.LoadScenario(f.scenario)
		if err != nil {
			return fail(usageError("--scenario: %v", err))
		}
		srv, err := sim.Start(sc, sim.Options{})
		if err != nil {
			return fail(err)
		}
		defer srv.Close()
		wo.Endpoints = srv.Endpoints()
		wo.OpenBrowser = func(u string) error {
			// The simulator plays the browser, as in demo.
			go srv.PlayBrowser(context.WithoutCancel(ctx), u)
			return nil
		}
		stateDir = g.stateDirOr(filepath.Join(defaultStateDir(), "demo"))
		fmt.Fprintf(progress, "Demo: scenario %q — simulated tenant %s at %s\n", sc.Name, srv.TenantID(), srv.URL())
	} else {
		// Same selection as onboard: endpoints file, --cloud, or the cloud
		// detected from the tenant's public openid-configuration.
		ep, err := selectEndpoints(ctx, connFlags{endpointsFile: f.epFile, cloud: f.cloud, clientID: f.clientID}, f.tenant, io.Err)
		if err != nil {
			return fail(err)
		}
		wo.Endpoints = ep
	}
	if f.demo && f.clientID != "" {
		if !auth.IsGUID(f.clientID) {
			return fail(usageError("--client-id %q is not an application (client) id GUID", f.clientID))
		}
		wo.Endpoints.ClientID = f.clientID
	}
	wo.StateDir = stateDir
	if cm == auth.CacheFile {
		fmt.Fprintln(io.Err, "warning: --token-cache file keeps a refresh token for this tenant on disk (mode 0600) in", stateDir, "— run `itdr-onboard signout` when done.")
	}
	w, err := wire(wo)
	if err != nil {
		return fail(err)
	}
	// Runs before the simulator's Close (defers are LIFO): pooled
	// connections that never carried a request would make it wait.
	defer closeIdle(w.hc)

	if w.noPlatform {
		fmt.Fprintf(progress, "Note: %s; the checks that need the platform are skipped, the tenant checks run.\n", checks.NoPlatformReason)
	}
	opt := steps.Options{Tenant: f.tenant, Yes: false}
	setAuthMethod(&opt, m, io.Env)
	log.Info("check", "tenant", f.tenant, "auth", string(opt.AuthMethod))
	cr := &checkRun{w: w, opt: opt, stateDir: stateDir, timeout: f.timeout, parallel: f.parallel, progress: progress}
	rep, code := cr.run(ctx)
	if code == ExitInterrupted {
		fmt.Fprintln(progress, "\nInterrupted.")
		return code
	}
	if g.json {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fail(err)
		}
		io.Out.Write(append(b, '\n'))
	} else {
		printReport(io.Out, rep, cr.signInFailure)
	}
	log.Info("finished", "exit_code", code, "outcome", string(rep.Outcome))
	return code
}

// checkRun is one `check`: tenant resolution, sign-in through the engine's
// sign-in step, and every check through checks.RunAll.
type checkRun struct {
	w        *wiring
	opt      steps.Options
	stateDir string
	timeout  time.Duration
	parallel int
	progress io.Writer

	// signInFailure is set when the report is partial because sign-in did
	// not complete.
	signInFailure *steps.Failure
}

// run returns the report and the exit code.
func (cr *checkRun) run(ctx context.Context) (checks.Report, int) {
	all := cr.w.registry.All()
	var before, tenant []checks.Check
	for _, c := range all {
		if c.Phase() == checks.BeforeSignIn {
			before = append(before, c)
		} else {
			tenant = append(tenant, c)
		}
	}
	// The platform and network checks need no sign-in: run them while the
	// technician signs in.
	beforeDone := make(chan []checks.Entry, 1)
	go func() { beforeDone <- checks.RunAll(ctx, before, cr.timeout, cr.parallel) }()

	s := steps.NewSession(cr.opt)
	signCode := cr.signIn(ctx, s)
	entries := <-beforeDone
	if ctx.Err() != nil {
		return checks.Report{}, ExitInterrupted
	}

	if signCode == 0 {
		entries = append(entries, checks.RunAll(ctx, tenant, cr.timeout, cr.parallel)...)
		if ctx.Err() != nil {
			return checks.Report{}, ExitInterrupted
		}
	} else {
		detail := ""
		if cr.signInFailure != nil {
			detail = cr.signInFailure.Message
		}
		for _, c := range tenant {
			entries = append(entries, checks.Entry{Check: c, Result: checks.Result{Outcome: checks.Skip,
				Summary: "not checked: sign-in did not complete", Detail: detail}})
		}
	}
	entries = inRegistryOrder(all, entries)

	name := s.Org.DisplayName
	if name == "" {
		name = s.Org.InitialDomain()
	}
	account := s.User.UserPrincipalName
	if account == "" {
		account = s.Account.Username
	}
	tenantID := s.TenantID
	if !s.SignedIn && !auth.IsGUID(tenantID) {
		tenantID = ""
	}
	rep := checks.NewReport(name, tenantID, account, time.Now(), entries)
	switch {
	case signCode != 0:
		return rep, signCode
	case rep.Outcome == checks.Fail:
		return rep, ExitStopped
	}
	return rep, 0
}

// signIn resolves --tenant and runs the engine's sign-in step (device code,
// browser, automatic switch when device code is blocked, wrong-tenant
// guard). It returns 0 when signed in, else the exit code.
func (cr *checkRun) signIn(ctx context.Context, s *steps.Session) int {
	if cr.opt.Tenant != "" {
		info, err := cr.w.executor(s, cr.stateDir).Resolve(ctx, cr.opt.Tenant)
		if err != nil {
			if ctx.Err() != nil {
				return ExitInterrupted
			}
			cr.signInFailure = &steps.Failure{Kind: steps.FailStopped,
				Message: fmt.Sprintf("Could not find tenant %q: %v", cr.opt.Tenant, err),
				Remedy:  "check --tenant (a tenant GUID or one of its verified domains)", Err: err}
			fmt.Fprintf(cr.progress, "\n%s\n  what to do: %s\n", text.Line(cr.signInFailure.Message), cr.signInFailure.Remedy)
			return ExitStopped
		}
		s.TenantID, s.TenantCloud = info.ID, info.Cloud
	}
	eng := steps.NewEngine(s, steps.NewSignInStep())
	r := steps.NewRunner(ctx, cr.w.executor(s, cr.stateDir), 4)
	defer r.Close()
	rep := &signInReporter{Text: &plain.Text{W: cr.progress}}
	code := plain.Run(ctx, eng, r, plain.Auto{}, rep)
	if code != 0 {
		cr.signInFailure = eng.Failure()
		if cr.signInFailure == nil && rep.err != nil {
			cr.signInFailure = &steps.Failure{Kind: steps.FailError, Message: rep.err.Error()}
		}
	}
	return code
}

// signInReporter prints the sign-in step like onboard does, without the
// wizard's step numbering and final "Healthy" line.
type signInReporter struct {
	*plain.Text
	err error
}

func (r *signInReporter) StepStarted(e *steps.Engine, st steps.Step) {
	fmt.Fprintf(r.W, "\n== Sign-in\n")
}

func (r *signInReporter) Finished(e *steps.Engine, code int, err error) {
	r.err = err
	if code != 0 && code != ExitInterrupted {
		r.Text.Finished(e, code, err)
	}
}

// closeIdle closes the client's pooled connections (through the log
// transport, which does not forward CloseIdleConnections).
func closeIdle(hc *http.Client) {
	t := hc.Transport
	if lt, ok := t.(*logTransport); ok {
		t = lt.next
	}
	if ci, ok := t.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// inRegistryOrder sorts entries into the registry's (display) order.
func inRegistryOrder(all []checks.Check, entries []checks.Entry) []checks.Entry {
	pos := map[string]int{}
	for i, c := range all {
		pos[c.ID()] = i
	}
	out := make([]checks.Entry, len(all))
	var extra []checks.Entry
	seen := make([]bool, len(all))
	for _, e := range entries {
		if i, ok := pos[e.Check.ID()]; ok && !seen[i] {
			out[i], seen[i] = e, true
			continue
		}
		extra = append(extra, e)
	}
	res := make([]checks.Entry, 0, len(entries))
	for i := range out {
		if seen[i] {
			res = append(res, out[i])
		}
	}
	return append(res, extra...)
}

// printReport writes the plain report: a row per check with its outcome,
// what it verified, the remedy and the changes onboard would make.
func printReport(w io.Writer, rep checks.Report, signInFailure *steps.Failure) {
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
	var failed, warned, skipped, planned int
	for _, r := range rep.Checks {
		sev := ""
		if r.Outcome == checks.Fail && r.Severity == checks.Recommended {
			sev = " (recommended)"
		}
		p("  %s %s%s: %s\n", plain.OutcomeWord(steps.MarkOf(r.Outcome)), text.Line(r.Title), sev, text.Line(r.Summary))
		if r.Outcome != checks.Pass && r.Remedy != "" {
			p("         remedy: %s\n", text.Line(r.Remedy))
		}
		if r.Error != "" && r.Outcome != checks.Pass {
			p("         error: %s\n", text.Line(r.Error))
		}
		for _, c := range r.Changes {
			p("         would change: %s  ⟶  %s\n", text.Line(c.Summary), text.Line(c.Call))
			if c.Warning != "" {
				p("           warning: %s\n", text.Line(c.Warning))
			}
		}
		planned += len(r.Changes)
		switch r.Outcome {
		case checks.Fail:
			failed++
		case checks.Warn:
			warned++
		case checks.Skip:
			skipped++
		}
	}
	p("\n")
	switch {
	case signInFailure != nil:
		ran := len(rep.Checks) - skipped
		p("Result: incomplete: %d of %d checks ran", ran, len(rep.Checks))
		if failed > 0 {
			p(" and %d failed", failed)
		}
		p("; the other %d need a completed sign-in (see above).\n", skipped)
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
