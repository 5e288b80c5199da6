package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"itdr-onboard/customer"
	"itdr-onboard/internal/atomicfile"
	"itdr-onboard/sim"
	"itdr-onboard/ui/text"
)

func newDemoCmd(g *globalFlags, io IO) *cobra.Command {
	f := &runFlags{}
	var scenario, simLog string
	pd := struct {
		on         bool
		customers  int
		seed       int64
		csv, lanes string
		setup      string
	}{}
	c := &cobra.Command{
		Use:   "demo",
		Short: "Walk the whole wizard against the embedded tenant simulator (offline)",
		Long: `demo starts the embedded tenant simulator on 127.0.0.1 with a scenario and runs the
real wizard against it: the same clients, the same sign-in, the same steps.

Built-in scenarios (--scenario NAME; docs/scenarios.md tells each in full):
` + scenarioHelp(sim.BuiltinScenarios()) + `
or --scenario PATH for a scenario file (see docs/scenarios.md).`,
		Example: `  itdr-onboard demo                                         # the TUI, scenario typical
  itdr-onboard demo --plain --yes --org "Contoso Ltd"       # line mode, no questions
  itdr-onboard demo --scenario dehydrated --json --yes --org "Contoso Ltd"
  itdr-onboard demo --dry-run --plain --yes                 # the plan, nothing changed
  itdr-onboard demo --partner                               # MSP over GDAP: 25 customers`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pd.setup != "" && !pd.on {
				return usageError("--setup runs partner setup against the partner simulator: add --partner")
			}
			if pd.on && pd.setup != "" { // issue 20: partner setup against the simulator, cli/partner_setup.go
				st := map[string]string{"new": sim.PartnerAppAbsent, "hand-made": sim.PartnerAppHandMade}[pd.setup]
				if st == "" {
					return usageError("--setup %q: use new (no app yet) or hand-made (validate an app registered by hand)", pd.setup)
				}
				return exitCode(runPartnerSetupDemo(cmd.Context(), g, io, pd.seed, st, f.yes, f.dryRun))
			}
			if pd.on && f.tenant != "" { // issue 20: one customer over GDAP, cli/partner_onboard.go
				return exitCode(runPartnerOnboardDemo(cmd.Context(), g, io, pd.customers, pd.seed, f.tenant, customer.Options{Yes: f.yes, DryRun: f.dryRun, Org: f.org}, simLog))
			}
			if pd.on { // issue 20: the partner (GDAP) discovery demo, cli/partner.go
				return exitCode(runPartnerDemo(cmd.Context(), g, io, pd.customers, pd.seed, pd.csv, pd.lanes, simLog, f.yes))
			}
			opt, err := f.options(io)
			if err != nil {
				return err
			}
			sc, err := sim.LoadScenario(scenario)
			if err != nil {
				return usageError("--scenario: %v", err)
			}
			log, err := openLog(g.logFile)
			if err != nil {
				return err
			}
			defer log.Close()
			srv, stop, err := serveScenario(sc, sim.Options{}, "--sim-log", simLog, os.O_TRUNC)
			if err != nil {
				return err
			}
			defer stop()
			if opt.Tenant == "" {
				// The demo is for the simulated tenant: a sign-in to any
				// other (scenario wrong-tenant) is refused by the guard,
				// as onboard --tenant refuses it, instead of being checked.
				opt.Tenant = srv.TenantID()
			}
			stateDir := g.stateDirOr(filepath.Join(defaultStateDir(), "demo"))
			play := func(u string) error {
				// The simulator plays the browser: it signs in as the
				// scenario's user and lands on the local redirect.
				go srv.PlayBrowser(context.WithoutCancel(cmd.Context()), u)
				return nil
			}
			// With --consent handoff the simulator also plays the Global
			// Administrator who opens the admin-consent URL elsewhere.
			consent := func(ctx context.Context, u string) error { return srv.PlayBrowser(ctx, u) }
			w, err := wire(wireOptions{Endpoints: srv.Endpoints(), Tenant: opt.Tenant, StateDir: stateDir, OpenBrowser: play, OpenConsent: consent, Log: log, Env: io.Env})
			if err != nil {
				return err
			}
			w.tenantHint = srv.TenantID() // issue 7: lock + resume key before sign-in
			if opt.Org == "" && g.frontEnd(io) != "tui" && !io.IsTTY {
				// Nobody to ask: the demo maps the simulated tenant to the
				// organization named like it (a real onboarding needs --org).
				opt.Org = sc.Tenant.DisplayName
			}
			if g.frontEnd(io) == "plain" {
				fmt.Fprintf(io.Out, "Demo: scenario %q — simulated tenant %s at %s\n", sc.Name, srv.TenantID(), srv.URL())
				if opt.Org != "" && f.org == "" {
					fmt.Fprintf(io.Out, "No --org given and no terminal to ask on: using the organization %s.\n", text.Quote(opt.Org))
				}
			}
			code := drive(cmd.Context(), g, io, w, opt, stateDir, log)
			if code == ExitPending && !g.json {
				fmt.Fprintln(io.Err, "note: the demo's simulated tenant and platform stop with the demo, so `status` cannot reach them afterwards; against a real platform it reports the integration until it turns healthy.")
			}
			return exitCode(code)
		},
	}
	addRunFlags(c, f)
	c.Flags().StringVar(&scenario, "scenario", "typical", "built-in scenario name or a scenario file")
	c.Flags().BoolVar(&pd.on, "partner", false, "the partner (MSP) demo: sign in once, GDAP discovery of simulated customers (docs/gdap.md)")
	c.Flags().IntVar(&pd.customers, "customers", sim.DefaultPartnerCustomers, "with --partner: how many simulated customers (a mix of every lane)")
	c.Flags().Int64Var(&pd.seed, "seed", 20, "with --partner: the generator's seed (same seed, same customers)")
	c.Flags().StringVar(&pd.csv, "csv", "", "with --partner: also write the discovery rows to this CSV file")
	c.Flags().StringVar(&pd.lanes, "lane", "", "with --partner: only these lanes (comma-separated)")
	c.Flags().StringVar(&pd.setup, "setup", "", "with --partner: run partner setup instead of discovery, against a partner tenant whose onboarding app is new (not registered) or hand-made (registered by hand, to validate and fix)")
	c.Flags().StringVar(&simLog, "sim-log", "", "write the simulator's request log (one JSON line per request) here")
	c.Flags().StringVar(&f.tenant, "tenant", "", "the tenant to onboard (default: the simulated tenant)")
	return c
}

// scenarioLines says in one line what each built-in scenario shows (demo
// --help); a new built-in scenario adds its line here
// (TestDemoHelpDescribesEveryScenario).
var scenarioLines = map[string]string{
	"already-mapped":      "mapped to another organization: 409 unless --remap",
	"audit-disabled":      "unified audit logging is off: the wizard turns it on",
	"audit-just-enabled":  "audit logging on for 2 minutes: health waits for it",
	"audit-never":         "the audit log never shows the onboarding: rungs 4-5 wait",
	"bad-permissions":     "consent always fails: AADSTS650051, broken permissions",
	"dehydrated":          "Enable-OrganizationCustomization before the role fixes",
	"device-code-blocked": "Conditional Access blocks device code: browser sign-in",
	"flaky":               "every request slower and 20% of them fail: retries",
	"many-orgs":           "5000 platform organizations: search and pick",
	"mfa-required":        "MFA device code cannot satisfy (AADSTS50076): browser",
	"no-exchange-licence": "no Exchange Online mailbox licence: the check fails",
	"not-global-admin":    "the technician is Global Reader, not Global Administrator",
	"pim-eligible":        "Global Administrator eligible through PIM, not active",
	"ready":               "everything already in place: nothing to change",
	"roles-missing-all":   "Organization Management holds none of the five roles",
	"security-defaults":   "security defaults block device code (AADSTS530035)",
	"short-codes":         "device codes live 60 s and nobody approves them",
	"short-tokens":        "access tokens live 120 s: every call refreshes",
	"slow-health":         "the integration turns healthy two minutes after mapping",
	"sp-soft-deleted":     "platform's app in deleted items: 650051 for 20 s, retried",
	"typical":             "two Exchange roles, the platform's app missing (default)",
	"unhealthy-audit-off": "audit logging stays off (declined): health unhealthy",
	"wrong-tenant":        "sign-in to another tenant: stops before any change",
}

// scenarioHelp lists the built-in scenarios, one per line with its line.
func scenarioHelp(names []string) string {
	w := 0
	for _, n := range names {
		w = max(w, len(n))
	}
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "  %-*s  %s\n", w, n, scenarioLines[n])
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// serveScenario starts the simulator for sc. With logPath set, its request log
// goes there (mode is os.O_TRUNC or os.O_APPEND); a log that cannot be
// opened is a usage error naming logFlag. stop closes the server and the log.
func serveScenario(sc *sim.Scenario, so sim.Options, logFlag, logPath string, mode int) (srv *sim.Server, stop func(), err error) {
	var lf *os.File
	if logPath != "" {
		lf, err = os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|mode, 0o600)
		if err != nil {
			return nil, nil, usageError("%s %s: %v", logFlag, logPath, err)
		}
		so.Log = lf
	}
	srv, err = sim.Start(sc, so)
	if err != nil {
		if lf != nil {
			lf.Close()
		}
		return nil, nil, err
	}
	return srv, func() {
		srv.Close()
		if lf != nil {
			lf.Close()
		}
	}, nil
}

func newSimCmd(g *globalFlags, io IO) *cobra.Command {
	c := &cobra.Command{Use: "sim", Short: "The tenant simulator"}
	ps := struct {
		on        bool
		customers int
		seed      int64
		app       string
	}{}
	var scenario, epOut, logPath, addr, proxyAddr, caOut string
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve a simulated tenant and write an endpoints file for `onboard --endpoints`",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ps.on { // issue 20: the partner simulator, cli/partner.go
				return servePartner(cmd.Context(), io, ps.customers, ps.seed, epOut, logPath, addr, ps.app)
			}
			sc, err := sim.LoadScenario(scenario)
			if err != nil {
				return usageError("--scenario: %v", err)
			}
			srv, stop, err := serveScenario(sc, sim.Options{Addr: addr}, "--log", logPath, os.O_APPEND)
			if err != nil {
				return err
			}
			defer stop()
			var px *sim.Proxy
			if proxyAddr != "" {
				if px, err = srv.StartProxy(proxyAddr); err != nil {
					return usageError("--proxy: %v", err)
				}
				defer px.Close()
			}
			if err := srv.Endpoints().Save(epOut); err != nil {
				return fmt.Errorf("writing %s: %w", epOut, err)
			}
			if caOut == "" {
				caOut = filepath.Join(filepath.Dir(epOut), "itdr-sim-ca.pem")
			}
			{
				// Only the CA certificate: its key never leaves memory.
				if err := atomicfile.Write(caOut, []byte(srv.Endpoints().CACertPEM), 0o644); err != nil {
					return fmt.Errorf("writing %s: %w", caOut, err)
				}
			}
			fmt.Fprintf(io.Out, "Simulating scenario %q: tenant %s (%s) at %s\n", sc.Name, text.Line(sc.Tenant.DisplayName), srv.TenantID(), srv.URL())
			fmt.Fprintf(io.Out, "Endpoints file: %s\n", epOut)
			fmt.Fprintf(io.Out, "CA certificate: %s (valid 7 days; for SSL_CERT_FILE / REQUESTS_CA_BUNDLE)\n", caOut)
			fmt.Fprintf(io.Out, "Device-code page: %s/devicelogin\n", srv.URL())
			fmt.Fprintf(io.Out, "Run:  itdr-onboard onboard --endpoints %s --tenant %s\n", epOut, srv.TenantID())
			if px != nil {
				fmt.Fprintf(io.Out, "Proxy: %s serves %s (every other host is refused)\n", px.URL(), strings.Join(sim.ProxyHosts(), ", "))
				fmt.Fprintf(io.Out, "Or, with Microsoft's own host names (platform credentials from the endpoints file's platform_api_key/platform_api_secret in ITDR_API_KEY/ITDR_API_SECRET):\n")
				fmt.Fprintf(io.Out, "      HTTPS_PROXY=%s SSL_CERT_FILE=%s itdr-onboard onboard --tenant %s\n", px.URL(), caOut, srv.TenantID())
			}
			fmt.Fprintln(io.Out, "Press ctrl+c to stop.")
			<-cmd.Context().Done()
			return nil
		},
	}
	serve.Flags().BoolVar(&ps.on, "partner", false, "serve the partner simulator (a partner tenant and --customers customer tenants over GDAP) for batch plan --endpoints")
	serve.Flags().IntVar(&ps.customers, "customers", sim.DefaultPartnerCustomers, "with --partner: how many customers")
	serve.Flags().Int64Var(&ps.seed, "seed", 20, "with --partner: the generator's seed")
	serve.Flags().StringVar(&ps.app, "app", "ready", "with --partner: the onboarding app at start — ready, absent (partner setup creates it) or hand-made (partner setup --client-id validates and fixes it)")
	serve.Flags().StringVar(&scenario, "scenario", "typical", "built-in scenario name or a scenario file")
	serve.Flags().StringVar(&epOut, "endpoints-out", "itdr-sim-endpoints.json", "where to write the endpoints file")
	serve.Flags().StringVar(&logPath, "log", "", "append the request log (one JSON line per request) to this file")
	serve.Flags().StringVar(&addr, "addr", "127.0.0.1:0", "listen address (loopback only)")
	serve.Flags().StringVar(&proxyAddr, "proxy", "", "also run an HTTPS (CONNECT) proxy on this loopback address that serves the simulator under Microsoft's host names (e.g. 127.0.0.1:8443)")
	serve.Flags().StringVar(&caOut, "ca-out", "", "where to write the simulator's CA certificate (PEM; default itdr-sim-ca.pem beside the endpoints file)")
	c.AddCommand(serve)
	return c
}
