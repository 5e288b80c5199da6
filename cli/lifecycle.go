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
	"itdr-onboard/platform"
	"itdr-onboard/state"
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
	// Evidence is the evidence ladder: the rungs the onboarding proved (from
	// the receipt) with rung 5 re-evaluated from the platform now; rungs
	// 2–4 are re-checked only with a sign-in (EvidenceNote says how).
	Evidence     []steps.LadderRung `json:"evidence,omitempty"`
	EvidenceNote string             `json:"evidence_note,omitempty"`
	ExitCode     int                `json:"exit_code"`
}

// receiptStatus summarises the latest local receipt of a tenant.
type receiptStatus struct {
	Path      string    `json:"path"`
	WrittenAt time.Time `json:"written_at"`
	Operator  string    `json:"operator,omitempty"`
	Changes   int       `json:"changes"`
	Declined  int       `json:"declined,omitempty"`
	evidence  []steps.LadderRung
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
	return &receiptStatus{Path: path, WrittenAt: rc.WrittenAt, Operator: rc.Operator, Changes: len(rc.Changes), Declined: len(rc.Declined),
		evidence: rc.Evidence}, rc.TenantName
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
	ts.Evidence, ts.EvidenceNote = statusLadder(ts, in, err, tenantID)
	ts.ExitCode = statusExit(ts.Status)
	return ts
}

// statusLadder re-evaluates the evidence ladder without a sign-in: the
// rungs the onboarding proved stay proven (the receipt says when), rung 5
// is read from the platform now, rungs 2–4 need a token.
func statusLadder(ts tenantStatus, in *platform.Integration, err error, tenantID string) ([]steps.LadderRung, string) {
	if !ts.Mapped {
		return nil, ""
	}
	l := steps.NewLadder()
	if ts.Receipt != nil && len(ts.Receipt.evidence) == len(l) {
		l = ts.Receipt.evidence
		def := steps.NewLadder()
		for i := range l { // the descriptive fields are this version's
			l[i].Typical, l[i].Worst, l[i].WorstD, l[i].IfLate, l[i].Proves = def[i].Typical, def[i].Worst, def[i].WorstD, def[i].IfLate, def[i].Proves
			if l[i].State == "" {
				l[i].State = checks.RungWaiting
			}
		}
	}
	if err == nil && in != nil {
		at := time.Now()
		if in.LastCheckedAt != nil {
			at = *in.LastCheckedAt
		}
		if in.FirstEventAt != nil {
			at = *in.FirstEventAt
		}
		steps.PlatformRung(l, at, *in)
	}
	note := ""
	for _, r := range l[1:4] {
		if !r.Proven() {
			note = "Rungs 2–4 are re-checked only with a sign-in (a token with Exchange Online and AuditLog.Read.All): run itdr-onboard onboard --tenant " +
				tenantID + " — with everything in place it changes nothing and goes straight to the health step."
			break
		}
	}
	return l, note
}

func printStatus(w io.Writer, ts tenantStatus) {
	now := time.Now() // times are shown as everywhere outside the TUI (text.Clock)
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
			fmt.Fprintf(w, "  reason: %s\n", text.Line(text.ClockTimes(ts.Reason, now)))
		}
		if ts.Remedy != "" {
			fmt.Fprintf(w, "  what to do: %s\n", text.Line(ts.Remedy))
		}
		// A zero date from the platform is no date: never "0001-01-01".
		if known(ts.FirstDataAt) {
			fmt.Fprintf(w, "  first data: %s\n", text.Clock(*ts.FirstDataAt, now))
		} else if known(ts.ExpectedFirstDataAt) {
			fmt.Fprintf(w, "  first data expected by: %s (it can take up to 24 h)\n", text.Clock(*ts.ExpectedFirstDataAt, now))
		}
		if known(ts.LastCheckedAt) {
			fmt.Fprintf(w, "  last checked by the platform: %s\n", text.Clock(*ts.LastCheckedAt, now))
		}
	}
	for _, r := range ts.Evidence {
		fmt.Fprintf(w, "  %s\n", plain.RungLine(r, now))
	}
	if ts.EvidenceNote != "" {
		fmt.Fprintf(w, "  %s\n", text.Line(ts.EvidenceNote))
	}
	if r := ts.Receipt; r != nil {
		fmt.Fprintf(w, "  local receipt: %s (written %s by %s, %d change(s))\n", r.Path,
			text.Clock(r.WrittenAt, now), text.Line(r.Operator), r.Changes)
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
				b, _ := text.Marshal(map[string]any{"tenants": all, "exit_code": code, "state_dir": stateDir})
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
	return exitCode(runFlow(ctx, g, io, w, flowRun{flow: flow, opt: opt, stateDir: stateDir}, log))
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

// known reports a date that is set and not the zero time.
func known(t *time.Time) bool { return t != nil && !t.IsZero() && t.Year() > 1 }
