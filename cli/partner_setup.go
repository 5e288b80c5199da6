package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"itdr-onboard/auth"
	"itdr-onboard/endpoints"
	"itdr-onboard/sim"
	"itdr-onboard/state"
	"itdr-onboard/steps"
)

// `partner setup` (issue 20, docs/gdap.md "The onboarding app"): create or
// validate the onboarding app in the partner tenant, consent it there and
// save its id in the wizard's config (<state-dir>/partner/config.json) —
// a flow of the engine (steps.PartnerSetup) with the three front-ends.

type setupFlags struct {
	epFile, cloud, clientID, tenant, auth string
	yes, dryRun                           bool
}

// partnerStateDir is where the partner commands keep their state (the
// token cache with --token-cache file, config.json, the partner tenant's
// receipts and journal).
func partnerStateDir(g *globalFlags) string {
	return filepath.Join(g.stateDirOr(defaultStateDir()), "partner")
}

// savedClientID is the onboarding app saved by partner setup, when it was
// set up for this partner tenant (tenant "" or a domain: any).
func savedClientID(dir, tenant string) (string, error) {
	cfg, err := state.Store{Dir: dir}.LoadPartnerConfig()
	if err != nil || cfg == nil {
		return "", err
	}
	if auth.IsGUID(tenant) && cfg.PartnerTenantID != "" && !strings.EqualFold(tenant, cfg.PartnerTenantID) {
		return "", nil
	}
	return cfg.ClientID, nil
}

type setupRun struct {
	ep       endpoints.Endpoints
	opt      steps.Options
	stateDir string
}

// runSetup runs the flow: sign-in with Microsoft Graph Command Line Tools
// (an administrator's tool; the onboarding app may not exist yet, or not
// be consented), then the setup step.
func runSetup(ctx context.Context, g *globalFlags, io IO, sr setupRun) int {
	log, err := openLog(g.logFile)
	if err != nil {
		fmt.Fprintln(io.Err, "error:", err)
		return ExitUsage
	}
	defer log.Close()
	if err := ensureStateDir(sr.stateDir); err != nil {
		fmt.Fprintln(io.Err, "error:", err)
		return ExitUsage
	}
	ep := sr.ep
	ep.ClientID = endpoints.DefaultClientID
	// The Graph permissions setup itself uses, asked for by name: an
	// administrator is prompted to consent them for Microsoft Graph
	// Command Line Tools at sign-in (with /.default a tenant that never
	// consented them would give a token without them).
	graph := strings.TrimSuffix(ep.GraphScope(), "/.default")
	var scopes []string
	for _, p := range steps.SetupSignInScopes {
		scopes = append(scopes, graph+"/"+p)
	}
	w, err := wire(wireOptions{Endpoints: ep, Tenant: sr.opt.Tenant, StateDir: sr.stateDir, Log: log, Env: io.Env, Now: io.Now, PlatformOptional: true, GraphScopes: scopes})
	if err != nil {
		fmt.Fprintln(io.Err, "error:", err)
		return ExitUsage
	}
	w.platform = nil // setup needs nothing of the platform
	mode := g.frontEnd(io)
	// One setup per partner tenant at a time (exit 3 while another run
	// holds it): taken before sign-in when the tenant is known then, else
	// once the sign-in names it, before setup reads anything (a lock
	// taken then is the same file, so either way two setups exclude each
	// other). A dry run writes nothing, not even a lock.
	var late *state.Lock
	var lateMu sync.Mutex
	early := false
	if sr.opt.Tenant != "" && !sr.opt.DryRun {
		if key := lockKey(ctx, w, sr.opt.Tenant); key != "" {
			rg := &runGuard{io: io, mode: mode, store: state.Store{Dir: sr.stateDir}, log: log, now: time.Now, command: "partner setup"}
			if code, ok := rg.takeLock(key); !ok {
				return code
			}
			defer rg.lock.Release()
			early = true
		}
	}
	defer func() {
		lateMu.Lock()
		defer lateMu.Unlock()
		if late != nil {
			late.Release()
		}
	}()
	sr.opt.NoPrompt = mode == "json" || (mode == "plain" && !io.IsTTY)
	store := state.Store{Dir: sr.stateDir}
	return runFlow(ctx, g, io, w, flowRun{flow: steps.PartnerSetup, opt: sr.opt, stateDir: sr.stateDir,
		configure: func(x *steps.Executor) {
			if !early && !sr.opt.DryRun {
				x.Lock = func(tenantID string) error {
					lateMu.Lock()
					defer lateMu.Unlock()
					if late != nil || tenantID == "" {
						return nil
					}
					l, err := store.AcquireLockFor(strings.ToLower(tenantID), "partner setup", time.Now())
					if err != nil {
						log.Warn("lock", "tenant_id", tenantID, "error", err.Error())
						return err
					}
					if l.TookOver != nil {
						log.Info("lock", "tenant_id", tenantID, "took_over_pid", l.TookOver.PID)
					}
					late = l
					return nil
				}
			}
			x.SaveSetup = func(appID, tenantID string) (string, error) {
				return store.PartnerConfigPath(), store.SavePartnerConfig(state.PartnerConfig{ClientID: appID, PartnerTenantID: tenantID, SavedAt: time.Now().UTC()})
			}
		}}, log)
}

func newPartnerSetupCmd(g *globalFlags, io IO) *cobra.Command {
	f := &setupFlags{}
	c := &cobra.Command{
		Use:   "setup",
		Short: "Once per MSP: create or validate the onboarding app in the partner tenant and consent it there",
		Long: `partner setup signs in a partner administrator (Global Administrator, Cloud Application
Administrator or Application Administrator: the consent is for delegated permissions only) with
Microsoft Graph Command Line Tools and makes sure the onboarding app is what the partner commands
need: multi-tenant (AzureADMultipleOrgs), public client flows on with the redirect http://localhost,
exactly the delegated permissions listed in docs/gdap.md (Partner Center user_impersonation, the
Microsoft Graph permissions, Exchange.Manage), its service principal in the partner tenant and a
tenant-wide consent per resource. Without --client-id it uses the app saved by an earlier setup, or
the app named "ITDR Onboarding", or registers a new one; with --client-id it validates that app
(made by hand) and reports each missing or extra permission, the public client flag and the
audience. It shows the plan and asks (--yes answers; --dry-run stops before the first change),
applies each change through the write-ahead journal, reads everything back, saves the app id in
<state-dir>/partner/config.json (the partner commands then need no --client-id) and writes a
receipt. Running it again after a crash finishes what is left.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := auth.ParseMethod(f.auth)
			if err != nil {
				return usageError("%v", err)
			}
			if f.tenant != "" {
				if err := auth.ValidateTenantFlag(f.tenant); err != nil {
					return usageError("--partner-tenant: %v", err)
				}
			}
			if f.clientID != "" && !auth.IsGUID(f.clientID) {
				return usageError("--client-id %q is not an application (client) id: pass the GUID shown on the app's overview page", f.clientID)
			}
			ep, err := selectEndpoints(cmd.Context(), connFlags{endpointsFile: f.epFile, cloud: f.cloud}, f.tenant, io.Err)
			if err != nil {
				return err
			}
			dir := partnerStateDir(g)
			appID := strings.ToLower(f.clientID)
			if appID == "" {
				if appID, err = savedClientID(dir, f.tenant); err != nil {
					return usageError("%v", err)
				}
			}
			opt := steps.Options{Tenant: f.tenant, Yes: f.yes, DryRun: f.dryRun, SetupAppID: appID}
			setAuthMethod(&opt, m, io.Env)
			return exitCode(runSetup(cmd.Context(), g, io, setupRun{ep: ep, opt: opt, stateDir: dir}))
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.epFile, "endpoints", "", "an endpoints file (written by sim serve) instead of Microsoft's cloud")
	fl.StringVar(&f.cloud, "cloud", "", "Microsoft cloud: "+strings.Join(endpoints.Clouds(), ", "))
	fl.StringVar(&f.clientID, "client-id", "", "validate this app (an app registered by hand) instead of the saved or named one")
	fl.StringVar(&f.tenant, "partner-tenant", "", "the partner tenant (GUID or domain); default: the tenant of the account that signs in")
	fl.StringVar(&f.auth, "auth", "auto", "sign-in method: auto, device, browser")
	fl.BoolVarP(&f.yes, "yes", "y", false, "accept the plan without asking")
	fl.BoolVar(&f.dryRun, "dry-run", false, "show the plan and stop before the first change; writes nothing")
	return c
}

// runPartnerSetupDemo is `demo --partner --setup`: a partner simulator whose
// tenant has no onboarding app yet (or --app hand-made), then partner setup.
func runPartnerSetupDemo(ctx context.Context, g *globalFlags, io IO, seed int64, appState string, yes, dryRun bool) int {
	sc := sim.GeneratePartnerScenario(sim.DefaultPartnerCustomers, seed)
	sc.Partner.App = appState
	srv, err := sim.StartPartner(sc, sim.Options{})
	if err != nil {
		fmt.Fprintln(io.Err, "error:", err)
		return ExitUsage
	}
	defer srv.Close()
	if g.frontEnd(io) == "plain" {
		fmt.Fprintf(io.Out, "Demo: partner simulator at %s; partner tenant %s; onboarding app: %s\n", srv.URL(), srv.PartnerTenantID(),
			map[string]string{sim.PartnerAppAbsent: "not registered yet", sim.PartnerAppHandMade: "registered by hand (" + sc.Partner.AppID + ")"}[appState])
	}
	appID := ""
	if appState == sim.PartnerAppHandMade {
		appID = sc.Partner.AppID
	}
	opt := steps.Options{Tenant: srv.PartnerTenantID(), Yes: yes, DryRun: dryRun, SetupAppID: appID, AuthMethod: auth.MethodDevice}
	dir := filepath.Join(g.stateDirOr(filepath.Join(defaultStateDir(), "demo")), "partner")
	return runSetup(ctx, g, io, setupRun{ep: srv.Endpoints(), opt: opt, stateDir: dir})
}
