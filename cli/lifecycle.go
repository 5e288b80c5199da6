package cli

// The integration lifecycle after onboarding, each a flow of the steps
// engine: status (steps.StatusFlow: platform API only, no
// sign-in), reauthorize (sign in, grant consent again, verify) and unmap
// (delete the integration; with --remove-access also the platform's service
// principal and its directory roles, after a plan and a confirmation).

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"itdr-onboard/auth"
	"itdr-onboard/endpoints"
	"itdr-onboard/state"
	"itdr-onboard/steps"
)

// lcFlags are the flags every lifecycle command shares.
type lcFlags struct {
	tenant, epFile, cloud, clientID, authM, consent string
	yes, removeAccess                               bool
	pollBase                                        time.Duration
}

func (f *lcFlags) addTarget(c *cobra.Command, tenantHelp string) {
	fl := c.Flags()
	fl.StringVar(&f.tenant, "tenant", "", tenantHelp)
	fl.StringVar(&f.epFile, "endpoints", "", "an endpoints file (written by sim serve) instead of Microsoft's cloud")
	fl.StringVar(&f.cloud, "cloud", "", "Microsoft cloud: global, usgov, usgovdod, china (default global)")
}

func (f *lcFlags) addSignIn(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.clientID, "client-id", "", "the public client application to sign in with (default: Microsoft Graph Command Line Tools)")
	fl.StringVar(&f.authM, "auth", "auto", "sign-in method: auto, device, browser")
	fl.DurationVar(&f.pollBase, "poll-base", 5*time.Second, "first poll interval of a --consent handoff")
	_ = fl.MarkHidden("poll-base")
}

// endpoints picks the endpoints like onboard does (endpoints file, --cloud,
// --client-id) but never looks the tenant's cloud up: no tenant is passed.
func (f *lcFlags) endpoints() (endpoints.Endpoints, error) {
	return selectEndpoints(context.Background(), connFlags{endpointsFile: f.epFile, cloud: f.cloud, clientID: f.clientID}, "", io.Discard)
}

// ---------------------------------------------------------------- status

func newStatusCmd(g *globalFlags, io IO) *cobra.Command {
	f := &lcFlags{}
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the platform's integration status and the local receipt (no sign-in needed)",
		Long: `status reads the integration of a tenant from the platform's API (status, reason,
remedy, expected first data, last check), the evidence ladder (rung 5 re-read
now, rungs 2–4 as last proven) and the latest local receipt. Without --tenant
it shows every tenant that has local state in --state-dir. Without
ITDR_API_KEY/ITDR_API_SECRET it shows only what is saved locally. Runs in the
TUI, --plain or --json (onboard's event stream; the finished event carries
"tenants") like onboard.

Exit codes: 0 healthy, 4 pending, 1 unhealthy or unreadable, 3 not mapped
(with several tenants, the worst of them).`,
		Example: `  itdr-onboard status --tenant contoso.onmicrosoft.com
  itdr-onboard status --json            # every tenant with local state`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.tenant != "" {
				if err := auth.ValidateTenantFlag(f.tenant); err != nil {
					return usageError("%v", err)
				}
			}
			ep, err := f.endpoints()
			if err != nil {
				return err
			}
			log, err := openLog(g.logFile)
			if err != nil {
				return err
			}
			defer log.Close()
			stateDir := g.stateDirOr(defaultStateDir())
			// No sign-in; without platform credentials the local state is
			// still worth showing.
			w, err := wire(wireOptions{Endpoints: ep, StateDir: stateDir, Log: log, Env: io.Env, Now: io.Now, PlatformOptional: true})
			if err != nil {
				return err
			}
			return exitCode(runFlow(cmd.Context(), g, io, w, flowRun{flow: steps.StatusFlow, opt: steps.Options{Tenant: f.tenant}, stateDir: stateDir}, log))
		},
	}
	f.addTarget(c, "the tenant (GUID or verified domain); default: every tenant with local state")
	return c
}

// ------------------------------------------------- sign-in based commands

// lifecycleRun wires the clients for --tenant and runs a lifecycle flow
// (steps/lifecycle.go) with the chosen front-end.
func lifecycleRun(ctx context.Context, g *globalFlags, io IO, f *lcFlags, flow steps.Flow, opt steps.Options) error {
	if err := auth.ValidateTenantFlag(f.tenant); err != nil {
		return usageError("%v", err)
	}
	m, err := auth.ParseMethod(f.authM)
	if err != nil {
		return usageError("%v", err)
	}
	setAuthMethod(&opt, m, io.Env)
	opt.Tenant = f.tenant
	if f.pollBase > 0 {
		opt.PollBase = f.pollBase
	}
	ep, err := f.endpoints()
	if err != nil {
		return err
	}
	log, err := openLog(g.logFile)
	if err != nil {
		return err
	}
	defer log.Close()
	stateDir := g.stateDirOr(defaultStateDir())
	w, err := wire(wireOptions{Endpoints: ep, Tenant: f.tenant, StateDir: stateDir, Log: log, Env: io.Env, Now: io.Now})
	if err != nil {
		return err
	}
	// One run per tenant, like onboard: a lifecycle command takes the
	// tenant's lock (exit 3 while another run holds it).
	if err := ensureStateDir(stateDir); err != nil {
		return usageError("%v", err)
	}
	if key := lockKey(ctx, w, f.tenant); key != "" {
		rg := &runGuard{io: io, mode: g.frontEnd(io), store: state.Store{Dir: stateDir}, log: log, now: time.Now, command: flow.Name}
		if code, ok := rg.takeLock(key); !ok {
			return exitCode(code)
		}
		defer rg.lock.Release()
	}
	return exitCode(runFlow(ctx, g, io, w, flowRun{flow: flow, opt: opt, stateDir: stateDir, record: true}, log))
}

// lockKey is the tenant id the lock is named by: --tenant as a GUID, or the
// domain resolved through the tenant's public metadata (looked up once per
// process, so the flow's own lookup is free). "" when it does not resolve:
// the flow's first step reports why.
func lockKey(ctx context.Context, w *wiring, tenant string) string {
	if auth.IsGUID(tenant) {
		return strings.ToLower(tenant)
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	info, err := auth.ResolveTenant(rctx, w.hc, w.ep, tenant)
	if err != nil {
		return ""
	}
	return strings.ToLower(info.ID)
}

// ----------------------------------------------------------- reauthorize

func newReauthorizeCmd(g *globalFlags, io IO) *cobra.Command {
	f := &lcFlags{}
	var consentRetry time.Duration
	c := &cobra.Command{
		Use:   "reauthorize",
		Short: "Sign in and grant the platform's permissions in a tenant again, then verify them",
		Long: `reauthorize signs in to the tenant, makes sure the platform's service principal
exists and holds every permission the platform asks for (with the same guided
AADSTS650051 handling as onboarding, or --consent handoff), reads the grants
back, and shows the integration's status. Use it when the platform reports
consent_missing or consent_revoked. What it grants goes to the audit trail and
a receipt. Runs in the TUI, --plain or --json like onboard.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.tenant == "" {
				return usageError("reauthorize needs --tenant (the tenant's GUID or verified domain)")
			}
			opt := steps.Options{ConsentRetryBase: consentRetry}
			if err := setConsentMode(&opt, f.consent); err != nil {
				return err
			}
			return lifecycleRun(cmd.Context(), g, io, f, steps.Reauthorize, opt)
		},
	}
	f.addTarget(c, "the tenant (GUID or verified domain)")
	f.addSignIn(c)
	c.Flags().StringVar(&f.consent, "consent", "direct", "direct (with your sign-in) or handoff (admin-consent URL for a Global Administrator elsewhere)")
	c.Flags().DurationVar(&consentRetry, "consent-retry", 30*time.Second, "first wait before retrying consent after AADSTS650051")
	_ = c.Flags().MarkHidden("consent-retry")
	return c
}

// ----------------------------------------------------------------- unmap

func newUnmapCmd(g *globalFlags, io IO) *cobra.Command {
	f := &lcFlags{}
	c := &cobra.Command{
		Use:   "unmap",
		Short: "Delete a tenant's integration (and with --remove-access the platform's access to it)",
		Long: `unmap deletes the tenant's integration on the platform (the platform stops reading
it). With --remove-access it also signs in and removes the platform's service
principal from the tenant together with its directory-role assignments, its
application permissions and delegated grants. It shows the plan first and asks
(--yes answers). Every deletion goes to the audit trail and a receipt; after a
crash, running unmap again removes what is left. The Organization Management
role-group roles and audit logging are left as they are: other tools may rely
on them. Runs in the TUI, --plain or --json like onboard.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.tenant == "" {
				return usageError("unmap needs --tenant (the tenant's GUID or verified domain)")
			}
			opt := steps.Options{Yes: f.yes, RemoveAccess: f.removeAccess}
			return lifecycleRun(cmd.Context(), g, io, f, steps.UnmapFlow, opt)
		},
	}
	f.addTarget(c, "the tenant (GUID or verified domain)")
	f.addSignIn(c)
	c.Flags().BoolVar(&f.removeAccess, "remove-access", false, "also remove the platform's service principal and its directory roles from the tenant (signs in)")
	c.Flags().BoolVarP(&f.yes, "yes", "y", false, "accept the plan without asking")
	return c
}
