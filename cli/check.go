package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
	"itdr-onboard/sim"
	"itdr-onboard/steps"
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
	fl.StringVar(&f.cache, "token-cache", "memory", "where tokens live: memory (sign in every run) or file (0600 in the state dir; opt-in); keyring is not supported yet")
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

	// With --json, stdout carries only the event stream: the demo's
	// banner and notes go to stderr.
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
	if w.noPlatform {
		fmt.Fprintf(progress, "Note: %s; the checks that need the platform are skipped, the tenant checks run.\n", checks.NoPlatformReason)
	}
	opt := steps.Options{Tenant: f.tenant, Yes: false}
	setAuthMethod(&opt, m, io.Env)
	code := runFlow(ctx, g, io, w, flowRun{flow: steps.CheckFlow, opt: opt, stateDir: stateDir,
		limit: f.parallel + 2, checkTimeout: f.timeout}, log)
	if code == ExitInterrupted {
		fmt.Fprintln(progress, "\nInterrupted.")
	}
	return code
}
