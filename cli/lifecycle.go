package cli

// The integration lifecycle after onboarding: status (platform API only, no
// sign-in), reauthorize (sign in, grant consent again, verify) and unmap
// (delete the integration; with --remove-access also the platform's service
// principal and its directory roles, after a plan and a confirmation).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
	"itdr-onboard/endpoints"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
	"itdr-onboard/steps"
	"itdr-onboard/ui/plain"
	"itdr-onboard/ui/text"
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

// platformOnly builds the platform client without any sign-in.
func platformOnly(ep endpoints.Endpoints) (*platform.Client, *http.Client, error) {
	hc := ep.HTTPClient()
	key, apiSecret, err := platformCredentials(ep)
	if err != nil {
		return nil, nil, err
	}
	return platform.New(hc, ep.Platform, key, apiSecret.Reveal()), hc, nil
}

// resolveTenantID turns --tenant (GUID or verified domain) into the GUID.
func resolveTenantID(ctx context.Context, hc *http.Client, ep endpoints.Endpoints, tenant string) (string, error) {
	if err := auth.ValidateTenantFlag(tenant); err != nil {
		return "", usageError("%v", err)
	}
	if auth.IsGUID(tenant) {
		return strings.ToLower(tenant), nil
	}
	info, err := auth.ResolveTenant(ctx, hc, ep, tenant)
	if err != nil {
		return "", fmt.Errorf("--tenant %s: %w", tenant, err)
	}
	if info.ID == "" {
		return "", usageError("--tenant %s: the domain did not resolve to a tenant id", tenant)
	}
	return info.ID, nil
}

// ---------------------------------------------------------------- status

// tenantStatus is one tenant's line of `status` (and its JSON object).
type tenantStatus struct {
	TenantID            string         `json:"tenant_id"`
	TenantName          string         `json:"tenant_name,omitempty"`
	Mapped              bool           `json:"mapped"`
	IntegrationID       string         `json:"integration_id,omitempty"`
	OrganizationID      string         `json:"organization_id,omitempty"`
	Organization        string         `json:"organization,omitempty"`
	Status              string         `json:"status"` // healthy | pending | unhealthy | not_mapped | error
	ReasonCode          string         `json:"reason_code,omitempty"`
	Reason              string         `json:"reason,omitempty"`
	Remedy              string         `json:"remedy,omitempty"`
	ExpectedFirstDataAt *time.Time     `json:"expected_first_data_at,omitempty"`
	FirstDataAt         *time.Time     `json:"first_data_at,omitempty"`
	LastCheckedAt       *time.Time     `json:"last_checked_at,omitempty"`
	Error               string         `json:"error,omitempty"`
	Receipt             *receiptStatus `json:"receipt,omitempty"`
	ExitCode            int            `json:"exit_code"`
}

// receiptStatus summarises the latest local receipt of a tenant.
type receiptStatus struct {
	Path      string    `json:"path"`
	WrittenAt time.Time `json:"written_at"`
	Operator  string    `json:"operator,omitempty"`
	Changes   int       `json:"changes"`
	Declined  int       `json:"declined,omitempty"`
}

// statusExit is the exit code of one tenant's status.
func statusExit(st string) int {
	switch st {
	case platform.StatusHealthy:
		return ExitHealthy
	case platform.StatusPending:
		return ExitPending
	case "not_mapped":
		return ExitStopped
	}
	return ExitFailed
}

// worstExit combines tenants: failed > not mapped > pending > healthy.
func worstExit(codes []int) int {
	rank := map[int]int{ExitHealthy: 0, ExitPending: 1, ExitStopped: 2, ExitFailed: 3}
	worst := ExitHealthy
	for _, c := range codes {
		if rank[c] > rank[worst] {
			worst = c
		}
	}
	return worst
}

// localTenants lists the tenants that have local state (receipts) in dir.
func localTenants(stateDir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(stateDir, "tenants"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && auth.IsGUID(e.Name()) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// latestReceipt reads the newest receipt of a tenant (names sort by time).
func latestReceipt(stateDir, tenantID string) (*receiptStatus, string) {
	dir := (&steps.Receipts{Dir: stateDir}).TenantDir(tenantID)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, ""
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasPrefix(e.Name(), "receipt-") && strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, ""
	}
	sort.Strings(names)
	path := filepath.Join(dir, names[len(names)-1])
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, ""
	}
	var rc steps.Receipt
	if err := json.Unmarshal(b, &rc); err != nil {
		return &receiptStatus{Path: path}, ""
	}
	return &receiptStatus{Path: path, WrittenAt: rc.WrittenAt, Operator: rc.Operator, Changes: len(rc.Changes), Declined: len(rc.Declined)}, rc.TenantName
}

func readStatus(ctx context.Context, pc *platform.Client, stateDir, tenantID string) tenantStatus {
	ts := tenantStatus{TenantID: tenantID}
	ts.Receipt, ts.TenantName = latestReceipt(stateDir, tenantID)
	in, err := pc.IntegrationForTenant(ctx, tenantID)
	switch {
	case err != nil:
		ts.Status, ts.Error = "error", err.Error()
	case in == nil:
		ts.Status = "not_mapped"
	default:
		ts.Mapped = true
		ts.IntegrationID, ts.OrganizationID, ts.Organization = in.ID, in.OrganizationID, in.OrganizationName
		ts.Status, ts.ReasonCode, ts.Reason = in.Status, in.ReasonCode, in.Reason
		ts.ExpectedFirstDataAt, ts.FirstDataAt, ts.LastCheckedAt = in.ExpectedFirstDataAt, in.FirstDataAt, in.LastCheckedAt
		if in.Status != platform.StatusHealthy {
			ts.Remedy = strings.ReplaceAll(steps.RemedyFor(in.ReasonCode), "<tenant>", tenantID)
		}
	}
	ts.ExitCode = statusExit(ts.Status)
	return ts
}

func printStatus(w io.Writer, ts tenantStatus) {
	name := ts.TenantID
	if ts.TenantName != "" {
		name = ts.TenantName + " (" + ts.TenantID + ")"
	}
	fmt.Fprintf(w, "Tenant %s\n", text.Line(name))
	switch ts.Status {
	case "error":
		fmt.Fprintf(w, "  integration: could not be read: %s\n", text.Line(ts.Error))
	case "not_mapped":
		fmt.Fprintf(w, "  integration: not mapped to any organization (run itdr-onboard onboard --tenant %s)\n", ts.TenantID)
	default:
		fmt.Fprintf(w, "  integration: %s — mapped to %s (%s), integration %s\n", text.Line(ts.Status),
			text.Line(ts.Organization), text.Line(ts.OrganizationID), text.Line(ts.IntegrationID))
		if ts.Reason != "" {
			fmt.Fprintf(w, "  reason: %s\n", text.Line(ts.Reason))
		}
		if ts.Remedy != "" {
			fmt.Fprintf(w, "  what to do: %s\n", text.Line(ts.Remedy))
		}
		if ts.FirstDataAt != nil {
			fmt.Fprintf(w, "  first data: %s\n", ts.FirstDataAt.Local().Format(time.RFC1123))
		} else if ts.ExpectedFirstDataAt != nil {
			fmt.Fprintf(w, "  first data expected by: %s (it can take up to 24 h)\n", ts.ExpectedFirstDataAt.Local().Format(time.RFC1123))
		}
		if ts.LastCheckedAt != nil {
			fmt.Fprintf(w, "  last checked by the platform: %s\n", ts.LastCheckedAt.Local().Format(time.RFC1123))
		}
	}
	if r := ts.Receipt; r != nil {
		fmt.Fprintf(w, "  local receipt: %s (written %s by %s, %d change(s))\n", r.Path,
			r.WrittenAt.Local().Format(time.RFC1123), text.Line(r.Operator), r.Changes)
	} else {
		fmt.Fprintf(w, "  local receipt: none\n")
	}
}

func newStatusCmd(g *globalFlags, io IO) *cobra.Command {
	f := &lcFlags{}
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the platform's integration status and the local receipt (no sign-in needed)",
		Long: `status reads the integration of a tenant from the platform's API (status, reason,
remedy, expected first data, last check) and the latest local receipt. Without
--tenant it shows every tenant that has local state in --state-dir.

Exit codes: 0 healthy, 4 pending, 1 unhealthy or unreadable, 3 not mapped
(with several tenants, the worst of them).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ep, err := f.endpoints()
			if err != nil {
				return err
			}
			pc, hc, err := platformOnly(ep)
			noCreds := err
			if err != nil {
				// Without credentials the local state is still worth showing.
				var ue *usageErr
				if !errors.As(err, &ue) {
					return err
				}
				hc = ep.HTTPClient()
			}
			stateDir := g.stateDirOr(defaultStateDir())
			ctx := cmd.Context()
			var tenants []string
			if f.tenant != "" {
				id, err := resolveTenantID(ctx, hc, ep, f.tenant)
				if err != nil {
					return err
				}
				tenants = []string{id}
			} else if tenants, err = localTenants(stateDir); err != nil {
				return fmt.Errorf("reading %s: %w", stateDir, err)
			}
			all := make([]tenantStatus, 0, len(tenants))
			codes := make([]int, 0, len(tenants))
			for _, t := range tenants {
				var ts tenantStatus
				if pc == nil {
					ts = tenantStatus{TenantID: t, Status: "error", Error: noCreds.Error() + " — showing only what is saved locally"}
					ts.Receipt, ts.TenantName = latestReceipt(stateDir, t)
					ts.ExitCode = statusExit(ts.Status)
				} else {
					ts = readStatus(ctx, pc, stateDir, t)
				}
				all = append(all, ts)
				codes = append(codes, ts.ExitCode)
			}
			code := worstExit(codes)
			if g.json {
				b, _ := json.Marshal(map[string]any{"tenants": all, "exit_code": code, "state_dir": stateDir})
				fmt.Fprintln(io.Out, string(b))
				return exitCode(code)
			}
			if len(all) == 0 {
				fmt.Fprintf(io.Out, "No tenant has local state in %s; pass --tenant to ask the platform about one.\n", stateDir)
			}
			for i, ts := range all {
				if i > 0 {
					fmt.Fprintln(io.Out)
				}
				printStatus(io.Out, ts)
			}
			return exitCode(code)
		},
	}
	f.addTarget(c, "the tenant (GUID or verified domain); default: every tenant with local state")
	return c
}

// ------------------------------------------------- sign-in based commands

// lcReporter forwards to a plain/JSON reporter but leaves a successful
// end to the command (the wrapped reporters would announce onboarding).
type lcReporter struct{ plain.Reporter }

func (r lcReporter) Finished(e *steps.Engine, code int, err error) {
	if err != nil || e.Failure() != nil || code != 0 {
		r.Reporter.Finished(e, code, err)
	}
}

// signedInRun wires the clients for a tenant and runs the engine over the
// sign-in step plus extra steps, with the plain or JSON front-end.
type signedInRun struct {
	w   *wiring
	s   *steps.Session
	x   *steps.Executor
	log *runLog
}

func startSignedIn(cmd *cobra.Command, g *globalFlags, io IO, f *lcFlags, ep endpoints.Endpoints, tenantID string, opt steps.Options) (*signedInRun, error) {
	m, err := auth.ParseMethod(f.authM)
	if err != nil {
		return nil, usageError("%v", err)
	}
	setAuthMethod(&opt, m, io.Env)
	opt.Tenant = tenantID
	if f.pollBase > 0 {
		opt.PollBase = f.pollBase
	}
	log, err := openLog(g.logFile)
	if err != nil {
		return nil, err
	}
	stateDir := g.stateDirOr(defaultStateDir())
	w, err := wire(wireOptions{Endpoints: ep, Tenant: tenantID, StateDir: stateDir, Log: log, Env: io.Env})
	if err != nil {
		log.Close()
		return nil, err
	}
	s := steps.NewSession(opt)
	s.TenantID = tenantID
	return &signedInRun{w: w, s: s, x: w.executor(s, stateDir), log: log}, nil
}

func (r *signedInRun) drive(ctx context.Context, g *globalFlags, io IO, extra ...steps.Step) int {
	eng := steps.NewEngine(r.s, append([]steps.Step{steps.NewSignInStep()}, extra...)...)
	run := steps.NewRunner(ctx, r.x, 4)
	defer run.Close()
	var rep plain.Reporter = &plain.Text{W: io.Out}
	if g.json {
		rep = &plain.JSON{W: io.Out}
	}
	var ans plain.Answerer = plain.Auto{Yes: r.s.Opt.Yes}
	if io.IsTTY && !g.json {
		ans = plain.Prompt{Yes: r.s.Opt.Yes, Lines: plain.NewLines(io.In), Out: io.Out}
	}
	return plain.Run(ctx, eng, run, ans, lcReporter{rep})
}

// emitJSON prints one JSON line shaped like the event stream's.
func emitJSON(w io.Writer, step, typ string, fields map[string]any) {
	m := map[string]any{"time": time.Now().UTC().Format(time.RFC3339Nano), "step": step, "type": typ}
	for k, v := range fields {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	fmt.Fprintln(w, string(b))
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
consent_missing or consent_revoked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.tenant == "" {
				return usageError("reauthorize needs --tenant (the tenant's GUID or verified domain)")
			}
			opt := steps.Options{ConsentRetryBase: consentRetry}
			if err := setConsentMode(&opt, f.consent); err != nil {
				return err
			}
			ep, err := f.endpoints()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			tid, err := resolveTenantID(ctx, ep.HTTPClient(), ep, f.tenant)
			if err != nil {
				return err
			}
			r, err := startSignedIn(cmd, g, io, f, ep, tid, opt)
			if err != nil {
				return err
			}
			defer r.log.Close()
			code := r.drive(ctx, g, io, steps.NewConsentStep())
			if code != 0 {
				return exitCode(code)
			}
			res := r.s.Consent
			in, ierr := r.w.platform.IntegrationForTenant(ctx, tid)
			if g.json {
				fields := map[string]any{"outcome": "reauthorized", "exit_code": 0, "tenant_id": tid,
					"service_principal_id": res.ServicePrincipalID, "created": res.Created,
					"granted": res.Granted, "already_granted": res.AlreadyGranted}
				if ierr == nil && in != nil {
					fields["integration_id"], fields["status"], fields["reason_code"] = in.ID, in.Status, in.ReasonCode
				}
				emitJSON(io.Out, "reauthorize", "finished", fields)
				return nil
			}
			fmt.Fprintf(io.Out, "\nReauthorized: the platform's service principal (%s) holds every permission the platform asks for.\n", res.ServicePrincipalID)
			fmt.Fprintf(io.Out, "  granted now: %d, already held: %d\n", len(res.Granted), len(res.AlreadyGranted))
			switch {
			case ierr != nil:
				fmt.Fprintf(io.Out, "  integration status could not be read: %s\n", text.Line(ierr.Error()))
			case in == nil:
				fmt.Fprintf(io.Out, "  the tenant is not mapped yet: run itdr-onboard onboard --tenant %s\n", tid)
			default:
				fmt.Fprintf(io.Out, "  integration %s: %s (the platform re-checks on its own schedule; see itdr-onboard status --tenant %s)\n",
					text.Line(in.ID), text.Line(in.Status), tid)
			}
			return nil
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

// unmapPlan is what unmap will delete.
type unmapPlan struct {
	Integration *platform.Integration
	SP          *m365.ServicePrincipal
	Roles       []m365.RoleAssignment
	AppRoles    int
}

func (p unmapPlan) lines(tenantID string) []string {
	var out []string
	if p.Integration != nil {
		out = append(out, fmt.Sprintf("Delete the integration %s (tenant %s mapped to %s)  ⟶  DELETE /v1/integrations/%s",
			p.Integration.ID, tenantID, p.Integration.OrganizationName, p.Integration.ID))
	}
	for _, ra := range p.Roles {
		name := ra.RoleDefinitionID
		if n := roleName(ra.RoleDefinitionID); n != "" {
			name = n
		}
		out = append(out, fmt.Sprintf("Remove directory role %s from the platform's service principal  ⟶  DELETE /roleManagement/directory/roleAssignments/%s", name, ra.ID))
	}
	if p.SP != nil {
		out = append(out, fmt.Sprintf("Delete the platform's service principal %s (%s) with its %d application permission(s) and delegated grants  ⟶  DELETE /servicePrincipals/%s",
			p.SP.DisplayName, p.SP.ID, p.AppRoles, p.SP.ID))
	}
	return out
}

func roleName(templateID string) string {
	switch strings.ToLower(templateID) {
	case "29232cdf-9323-42fd-ade2-1d097af3e4de":
		return "Exchange Administrator"
	case "92ed04bf-c94a-4b82-9729-b799a7a4c178":
		return "Organization Branding Administrator"
	case "62e90394-69f5-4237-9190-012177145e10":
		return "Global Administrator"
	}
	return ""
}

// confirm asks y/N on a terminal; headless without --yes it names --yes.
func confirm(ctx context.Context, io IO, asJSON, yes bool, prompt string) (bool, error) {
	if yes {
		return true, nil
	}
	if !io.IsTTY || asJSON {
		return false, usageError("%s — no terminal to ask on; answer it with --yes", strings.TrimSuffix(prompt, "?"))
	}
	fmt.Fprintf(io.Out, "%s [y/N] ", prompt)
	line, ok := readLineCtx(ctx, io.In)
	if !ok {
		return false, &exitError{code: ExitInterrupted}
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return fmt.Sprintf(many, n)
}

func newUnmapCmd(g *globalFlags, io IO) *cobra.Command {
	f := &lcFlags{}
	c := &cobra.Command{
		Use:   "unmap",
		Short: "Delete a tenant's integration (and with --remove-access the platform's access to it)",
		Long: `unmap deletes the tenant's integration on the platform (the platform stops reading
it). With --remove-access it also signs in and removes the platform's service
principal from the tenant together with its directory-role assignments, its
application permissions and delegated grants. It prints the plan first and asks
(--yes answers). The Organization Management role-group roles and audit logging
are left as they are: other tools may rely on them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.tenant == "" {
				return usageError("unmap needs --tenant (the tenant's GUID or verified domain)")
			}
			ep, err := f.endpoints()
			if err != nil {
				return err
			}
			pc, hc, err := platformOnly(ep)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			tid, err := resolveTenantID(ctx, hc, ep, f.tenant)
			if err != nil {
				return err
			}
			var plan unmapPlan
			plan.Integration, err = pc.IntegrationForTenant(ctx, tid)
			if err != nil {
				return fmt.Errorf("reading the tenant's integration: %w", err)
			}
			var run *signedInRun
			var app platform.App
			if f.removeAccess {
				run, err = startSignedIn(cmd, g, io, f, ep, tid, steps.Options{Yes: f.yes})
				if err != nil {
					return err
				}
				defer run.log.Close()
				if code := run.drive(ctx, g, io); code != 0 {
					return exitCode(code)
				}
				if app, err = run.w.platform.App(ctx); err != nil {
					return fmt.Errorf("reading the platform's app: %w", err)
				}
				gr := run.w.graph
				if plan.SP, err = gr.ServicePrincipalByAppID(ctx, app.AppID); err != nil {
					return fmt.Errorf("looking up the platform's service principal: %w", err)
				}
				if plan.SP != nil {
					if plan.Roles, err = gr.RoleAssignments(ctx, plan.SP.ID); err != nil {
						return fmt.Errorf("reading the service principal's directory roles: %w", err)
					}
					ars, err := gr.AppRoleAssignments(ctx, plan.SP.ID)
					if err != nil {
						return fmt.Errorf("reading the service principal's permissions: %w", err)
					}
					plan.AppRoles = len(ars)
				}
			}
			lines := plan.lines(tid)
			if len(lines) == 0 {
				msg := "Nothing to remove: the tenant is not mapped"
				if f.removeAccess {
					msg += " and the platform's service principal is not in it"
				} else {
					msg += " (add --remove-access to also remove the platform's service principal)"
				}
				if g.json {
					emitJSON(io.Out, "unmap", "finished", map[string]any{"outcome": "nothing_to_do", "exit_code": 0, "tenant_id": tid, "message": msg})
				} else {
					fmt.Fprintln(io.Out, msg+".")
				}
				return nil
			}
			if g.json {
				emitJSON(io.Out, "unmap", "plan", map[string]any{"tenant_id": tid, "changes": lines})
			} else {
				fmt.Fprintf(io.Out, "\nPlan for tenant %s:\n", tid)
				for _, l := range lines {
					fmt.Fprintf(io.Out, "  - %s\n", text.Line(l))
				}
				if f.removeAccess {
					fmt.Fprintln(io.Out, "  (not changed: the Organization Management role-group roles and audit logging)")
				}
			}
			ok, err := confirm(cmd.Context(), io, g.json, f.yes, fmt.Sprintf("Apply %s?", plural(len(lines), "this change", "these %d changes")))
			if err != nil {
				return err
			}
			if !ok {
				fmt.Fprintln(io.Out, "Declined; nothing was changed.")
				return exitCode(ExitStopped)
			}
			return doUnmap(ctx, g, io, pc, run, tid, plan, app)
		},
	}
	f.addTarget(c, "the tenant (GUID or verified domain)")
	f.addSignIn(c)
	c.Flags().BoolVar(&f.removeAccess, "remove-access", false, "also remove the platform's service principal and its directory roles from the tenant (signs in)")
	c.Flags().BoolVarP(&f.yes, "yes", "y", false, "accept the plan without asking")
	return c
}

func doUnmap(ctx context.Context, g *globalFlags, io IO, pc *platform.Client, run *signedInRun, tid string, plan unmapPlan, app platform.App) error {
	var done []string
	audit := func(id, summary, call string) {
		done = append(done, summary)
		if run != nil {
			_ = run.x.Receipts.Audit(run.s, checks.Applied{At: time.Now(), Change: checks.Change{ID: id, Summary: summary, Call: call}})
		}
	}
	fail := func(what string, err error) error {
		if g.json {
			emitJSON(io.Out, "unmap", "finished", map[string]any{"outcome": "failed", "exit_code": ExitFailed, "tenant_id": tid,
				"done": done, "message": what + ": " + err.Error()})
			return exitCode(ExitFailed)
		}
		for _, d := range done {
			fmt.Fprintf(io.Out, "  done: %s\n", text.Line(d))
		}
		return fmt.Errorf("%s: %w (what was done before is listed above; running unmap again finishes the rest)", what, err)
	}
	if in := plan.Integration; in != nil {
		if err := pc.DeleteIntegration(ctx, in.ID); err != nil && !platform.IsNotFound(err) {
			return fail("deleting the integration", err)
		}
		audit("unmap/integration", "Deleted the integration "+in.ID+" (mapped to "+in.OrganizationName+")", "DELETE /v1/integrations/"+in.ID)
	}
	if run != nil {
		gr := run.w.graph
		for _, ra := range plan.Roles {
			if err := gr.DeleteRoleAssignment(ctx, ra.ID); err != nil && !m365.IsNotFound(err) {
				return fail("removing a directory role", err)
			}
			name := roleName(ra.RoleDefinitionID)
			if name == "" {
				name = ra.RoleDefinitionID
			}
			audit("unmap/role", "Removed directory role "+name+" from the platform's service principal", "DELETE /roleManagement/directory/roleAssignments")
		}
		if plan.SP != nil {
			if err := gr.DeleteServicePrincipal(ctx, plan.SP.ID); err != nil && !m365.IsNotFound(err) {
				return fail("deleting the service principal", err)
			}
			audit("unmap/service-principal", "Deleted the platform's service principal "+plan.SP.ID, "DELETE /servicePrincipals")
		}
	}
	// Read back.
	var problems []string
	if in, err := pc.IntegrationForTenant(ctx, tid); err != nil {
		problems = append(problems, "could not re-read the integration: "+err.Error())
	} else if in != nil {
		problems = append(problems, "the platform still lists integration "+in.ID)
	}
	if run != nil && plan.SP != nil {
		if sp, err := run.w.graph.ServicePrincipalByAppID(ctx, app.AppID); err != nil {
			problems = append(problems, "could not re-read the service principal: "+err.Error())
		} else if sp != nil {
			problems = append(problems, "the service principal "+sp.ID+" is still present")
		}
	}
	code := ExitHealthy
	if len(problems) > 0 {
		code = ExitFailed
	}
	if g.json {
		f := map[string]any{"outcome": "unmapped", "exit_code": code, "tenant_id": tid, "done": done}
		if len(problems) > 0 {
			f["outcome"], f["problems"] = "failed", problems
		}
		emitJSON(io.Out, "unmap", "finished", f)
		return exitCode(code)
	}
	for _, d := range done {
		fmt.Fprintf(io.Out, "  done: %s\n", text.Line(d))
	}
	if len(problems) > 0 {
		return fmt.Errorf("verification failed: %s", strings.Join(problems, "; "))
	}
	fmt.Fprintf(io.Out, "\nUnmapped: tenant %s is no longer connected to the platform", tid)
	if run != nil && plan.SP != nil {
		fmt.Fprint(io.Out, ", and the platform's access to it was removed (the service principal stays in deleted items for 30 days)")
	}
	fmt.Fprintln(io.Out, ".")
	return nil
}
