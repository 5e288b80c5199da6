// Package cli holds the cobra commands and the wiring from flags to the
// step engine and its front-ends.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"itdr-onboard/auth"
	"itdr-onboard/internal/httpx"
	"itdr-onboard/steps"
	"itdr-onboard/ui/plain"
	"itdr-onboard/ui/text"
)

// Version is set at build time (-ldflags "-X itdr-onboard/cli.Version=…").
var Version = "0.1.0-dev"

// Exit codes.
const (
	ExitHealthy     = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitStopped     = 3
	ExitPending     = 4
	ExitInterrupted = 130
)

type globalFlags struct {
	plain, json, noColor bool
	logFile, stateDir    string
}

type runFlags struct {
	pollBase, consentRetry time.Duration
	yes, dryRun, remap     bool
	org, wait, auth        string
	tenant                 string
	consent                string
}

// exitError carries an exit code out of a command.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// IO is where a command reads and writes (tests substitute buffers).
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	// IsTTY reports whether In and Out are terminals.
	IsTTY bool
	Env   func(string) string
	// Now is the wizard's clock (nil: time.Now). Tests set it to the
	// simulator's clock to prove nothing depends on the calendar.
	Now func() time.Time
}

// Main runs the CLI and returns the process exit code.
func Main(args []string) int {
	isTTY := term.IsTerminal(os.Stdin.Fd()) && term.IsTerminal(os.Stdout.Fd())
	return Run(context.Background(), args, IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, IsTTY: isTTY, Env: os.Getenv})
}

var versionOnce sync.Once

// Run is Main with explicit IO, for tests.
func Run(ctx context.Context, args []string, io IO) int {
	if io.Env == nil {
		io.Env = os.Getenv
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// Once per process: concurrent Runs (parallel tests) must not race on it.
	versionOnce.Do(func() { httpx.Version = Version })
	root := newRoot(io)
	root.SetArgs(args)
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue *usageErr
	if errors.As(err, &ue) {
		fmt.Fprintln(io.Err, "error:", text.Sanitize(err.Error()))
		return ExitUsage
	}
	fmt.Fprintln(io.Err, "error:", text.Sanitize(err.Error()))
	if strings.Contains(err.Error(), "unknown flag") || strings.Contains(err.Error(), "unknown command") ||
		strings.Contains(err.Error(), "invalid argument") || strings.Contains(err.Error(), "accepts ") ||
		strings.Contains(err.Error(), "required flag") {
		return ExitUsage
	}
	return ExitFailed
}

func newRoot(io IO) *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "itdr-onboard",
		Short: "Connect a Microsoft 365 tenant to the ITDR platform from any terminal",
		Long: `itdr-onboard connects a customer's Microsoft 365 tenant to the managed ITDR platform:
prerequisites → sign-in → role fixes → mapping → health wait, from any terminal
(including a headless box over SSH).

Exit codes: 0 healthy (or a dry run), 1 failed (including a platform app
whose permissions cannot be granted), 2 usage (a bad flag, or a question no
flag answered), 3 stopped for the technician (a required prerequisite failed,
the plan was declined, wrong tenant, mapped elsewhere, another run holds the
tenant), 4 health still pending when the wait ended, 130 interrupted.

Environment: ITDR_API_KEY and ITDR_API_SECRET hold the platform API key
(not needed for demo), NO_COLOR turns colours off, SSH_CONNECTION/DISPLAY
choose device code or browser sign-in with --auth auto.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.BoolVar(&g.plain, "plain", false, "line-by-line output, no TUI (also used without a terminal or with TERM=dumb)")
	pf.BoolVar(&g.json, "json", false, "print one JSON event per line (for automation)")
	pf.BoolVar(&g.noColor, "no-color", false, "no colours (NO_COLOR is honoured too)")
	pf.StringVar(&g.logFile, "log-file", "", "write a structured JSON diagnostic log here (never contains tokens or codes)")
	pf.StringVar(&g.stateDir, "state-dir", "", "where receipts, the audit trail and resume state live (default $XDG_STATE_HOME/itdr-onboard)")

	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if g.plain && g.json {
			return usageError("--plain and --json cannot be used together: --plain prints lines for people, --json one JSON event per line for programs; pass one")
		}
		return nil
	}
	root.AddCommand(newDemoCmd(g, io), newOnboardCmd(g, io), newSimCmd(g, io), newVersionCmd(io))
	root.AddCommand(newSupportBundleCmd(g, io)) // issue 7 (cli/bundle.go)
	root.AddCommand(newStatusCmd(g, io), newReauthorizeCmd(g, io), newUnmapCmd(g, io))
	root.AddCommand(newCheckCmd(g, io), newSignoutCmd(g, io))
	root.AddCommand(newPartnerCmd(g, io), newBatchCmd(g, io)) // issue 20 (cli/partner.go)
	return root
}

func addRunFlags(c *cobra.Command, f *runFlags) {
	fl := c.Flags()
	fl.BoolVarP(&f.yes, "yes", "y", false, "accept every confirmation (the role-fix plan, turning on audit logging)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "show the whole plan (role fixes, audit logging, consent, mapping) and stop before the first change; writes nothing")
	fl.StringVar(&f.org, "org", "", "the platform organization to map the tenant to (name or id)")
	fl.BoolVar(&f.remap, "remap", false, "move a tenant that is mapped to another organization")
	fl.StringVar(&f.wait, "wait", "0", "bound the health wait (e.g. 30m); 0 waits until healthy, at most 24h. Exit 4 if still pending")
	fl.DurationVar(&f.pollBase, "poll-base", 5*time.Second, "first health poll interval (grows to 5 min)")
	fl.DurationVar(&f.consentRetry, "consent-retry", 30*time.Second, "first wait before retrying consent after AADSTS650051 (service principal still being deleted)")
	_ = fl.MarkHidden("poll-base")
	_ = fl.MarkHidden("consent-retry")
	fl.StringVar(&f.consent, "consent", "direct", "how the platform's permissions are granted: direct (with your sign-in) or handoff (show the admin-consent URL and QR for a Global Administrator elsewhere, then wait for the grant)")
	fl.StringVar(&f.auth, "auth", "auto", "sign-in method: auto (device code when headless, else browser; switches when a tenant blocks device code), device, browser")
}

func (g *globalFlags) stateDirOr(def string) string {
	if g.stateDir != "" {
		return g.stateDir
	}
	return def
}

// mode picks the front-end.
func (g *globalFlags) frontEnd(io IO) string {
	switch {
	case g.json:
		return "json"
	case g.plain, !io.IsTTY, io.Env("TERM") == "dumb":
		return "plain"
	}
	return "tui"
}

func (g *globalFlags) color(io IO) bool {
	return !g.noColor && io.Env("NO_COLOR") == ""
}

// options turns run flags into engine options.
func (f *runFlags) options(io IO) (steps.Options, error) {
	m, err := auth.ParseMethod(f.auth)
	if err != nil {
		return steps.Options{}, usageError("%v", err)
	}
	wait, err := parseWait(f.wait)
	if err != nil {
		return steps.Options{}, err
	}
	if f.pollBase <= 0 || f.consentRetry <= 0 {
		return steps.Options{}, usageError("--poll-base and --consent-retry must be positive durations")
	}
	opt := steps.Options{Tenant: f.tenant, Yes: f.yes, DryRun: f.dryRun, Org: f.org, Remap: f.remap, Wait: wait,
		PollBase: f.pollBase, ConsentRetryBase: f.consentRetry, Evidence: true}
	if err := setConsentMode(&opt, f.consent); err != nil {
		return steps.Options{}, err
	}
	setAuthMethod(&opt, m, io.Env)
	if f.tenant != "" {
		if err := auth.ValidateTenantFlag(f.tenant); err != nil {
			return steps.Options{}, usageError("%v", err)
		}
	}
	return opt, nil
}

// setAuthMethod sets opt's sign-in method from --auth: auto picks by the
// environment and may fall back to the other method.
func setAuthMethod(opt *steps.Options, m auth.Method, env func(string) string) {
	opt.AuthMethod = m
	if m == auth.MethodAuto {
		opt.AuthMethod = auth.DefaultMethod(env)
		opt.AutoFallback = true
	}
}

// setConsentMode sets opt's consent mode from --consent.
func setConsentMode(opt *steps.Options, mode string) error {
	switch mode {
	case "", "direct":
		opt.ConsentHandoff = false
	case "handoff":
		opt.ConsentHandoff = true
	default:
		return usageError("--consent %q: use direct or handoff", mode)
	}
	return nil
}

// drive runs the wizard with the chosen front-end and returns the exit code.
func drive(ctx context.Context, g *globalFlags, io IO, w *wiring, opt steps.Options, stateDir string, log *runLog) int {
	mode := g.frontEnd(io)
	// Without a terminal (or with --json) nobody can answer: the engine
	// stops before sign-in when a needed flag is missing.
	opt.NoPrompt = mode == "json" || (mode == "plain" && !io.IsTTY)
	// The device-code request needs only the authority: it goes out now,
	// before the lock, the engine and the front-end are set up and before
	// the checks open their connections; the sign-in step takes its code
	// (docs/benchmarks.md, row 1). A run that stops first never shows it.
	stopPrestart := func() {}
	if steps.StartsDeviceCode(opt) {
		stopPrestart = w.auth.PrestartDeviceCode(ctx)
	}
	// Issue 7 hook (cli/resume.go): SSH hint, one run per tenant (lock),
	// resume offer (may fill opt.Org), progress file after every step.
	rg, stopCode := beginRun(ctx, g, io, w, &opt, stateDir, log)
	if rg == nil {
		stopPrestart()
		return stopCode
	}
	defer rg.release()
	defer w.closeIdle() // issue 7: leave no idle connection behind (in-process runs and tests)
	defer stopPrestart()
	ctx = rg.ctx
	eng, s := steps.New(opt, w.infos)
	x := w.executor(s, stateDir)
	if x.Receipts != nil {
		x.Receipts.Onboarding = rg.onboarding // a resumed run continues its onboarding's record
		x.Receipts.SyncAtEnd = !opt.DryRun    // finishRecord ends the record
		x.Receipts.Notice = func(m string) { fmt.Fprintln(io.Err, "note:", text.Line(m)) }
		rg.rec = x.Receipts
	}
	r := steps.NewRunner(ctx, x, 8)
	defer r.Close()
	log.Info("run", "front_end", mode, "tenant", opt.Tenant, "auth", string(opt.AuthMethod))
	var code int
	switch mode {
	case "tui":
		code = runTUI(ctx, eng, r, io, g, opt, rg.observe)
	case "json":
		code = plain.Run(ctx, eng, r, plain.Auto{Yes: opt.Yes}, rg.reporter(&plain.JSON{W: io.Out}))
	default:
		var ans plain.Answerer = plain.Auto{Yes: opt.Yes}
		if io.IsTTY {
			ans = plain.Prompt{Yes: opt.Yes, Lines: plain.NewLines(io.In), Out: io.Out}
		}
		code = plain.Run(ctx, eng, r, ans, rg.reporter(&plain.Text{W: io.Out, CanPaste: io.IsTTY}))
	}
	code = finishRecord(r, x, s, opt, code, io)
	code = rg.finish(eng, code) // issue 7: final progress; 3 when another run holds the tenant
	log.Info("finished", "exit_code", code, "outcome", s.Outcome)
	return code
}

// finishRecord ends the run's record: once every job has stopped, intents
// whose outcome is unknown (ctrl+c cancelled their request) are settled by a
// read and the onboarding's one receipt is rewritten. A record that cannot
// be written makes the run fail loudly.
func finishRecord(r *steps.Runner, x *steps.Executor, s *steps.Session, opt steps.Options, code int, io IO) int {
	if x.Receipts == nil || opt.DryRun {
		return code
	}
	r.Close()
	if !x.Receipts.HasRecord(s) {
		if err := x.Receipts.Sync(); err != nil {
			fmt.Fprintln(io.Err, "error: the record of this onboarding could not be written:", text.Line(err.Error()))
			if code == ExitHealthy || code == ExitPending {
				return ExitFailed
			}
		}
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := x.Reconcile(ctx)
	p := ""
	if err == nil {
		p, _, err = x.Receipts.Write(s, time.Now())
	}
	if err != nil {
		fmt.Fprintln(io.Err, "error: the record of this onboarding could not be written:", text.Line(err.Error()))
		if code == ExitHealthy || code == ExitPending {
			return ExitFailed
		}
		return code
	}
	if code == ExitInterrupted {
		fmt.Fprintf(io.Err, "Interrupted after %d change(s) in this onboarding; receipt: %s\n", s.ChangesMade(), p)
	}
	return code
}

func newVersionCmd(io IO) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(io.Out, "itdr-onboard %s\n", Version)
			return nil
		},
	}
}

func newOnboardCmd(g *globalFlags, io IO) *cobra.Command {
	f := &runFlags{}
	var epFile, cloud, clientID, cache string
	c := &cobra.Command{
		Use:   "onboard",
		Short: "Onboard a real tenant (or a simulator through --endpoints)",
		Long: `onboard connects a Microsoft 365 tenant to the ITDR platform in five steps:
prerequisites, sign-in, role fixes (plan, confirm, apply, verify), mapping
(organization, consent) and health (the evidence ladder). It needs the platform
API credentials in ITDR_API_KEY and ITDR_API_SECRET.

Exit codes: 0 healthy, 1 failed, 2 usage, 3 stopped for the technician (a
prerequisite failed, the plan declined, the wrong tenant, mapped elsewhere,
another run holds the tenant), 4 mapped but health not confirmed yet (check
later with status), 130 interrupted.`,
		Example: `  itdr-onboard onboard --tenant contoso.onmicrosoft.com
  itdr-onboard onboard --tenant contoso.onmicrosoft.com --dry-run      # the plan, nothing changed
  itdr-onboard onboard --tenant contoso.onmicrosoft.com --plain --yes --org "Contoso Ltd" --wait 30m
  itdr-onboard onboard --tenant contoso.onmicrosoft.com --consent handoff   # a Global Administrator elsewhere consents
  itdr-onboard onboard --endpoints itdr-sim-endpoints.json --tenant 3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60   # rehearse against sim serve`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cm, err := auth.ParseCacheMode(cache)
			if err != nil {
				return usageError("%v", err)
			}
			opt, err := f.options(io)
			if err != nil {
				return err
			}
			ep, detectHC, err := selectEndpointsClient(cmd.Context(), connFlags{endpointsFile: epFile, cloud: cloud, clientID: clientID}, f.tenant, io.Err)
			if err != nil {
				return err
			}
			stateDir := g.stateDirOr(defaultStateDir())
			log, err := openLog(g.logFile)
			if err != nil {
				return err
			}
			defer log.Close()
			if cm == auth.CacheFile {
				fmt.Fprintln(io.Err, "warning: --token-cache file keeps a refresh token for this tenant on disk (mode 0600) in", stateDir, "— run `itdr-onboard signout` when done.")
			}
			w, err := wire(wireOptions{Endpoints: ep, Tenant: f.tenant, TokenCache: cm, StateDir: stateDir, Log: log, Env: io.Env, Now: io.Now, HTTPClient: detectHC})
			if err != nil {
				return err
			}
			return exitCode(drive(cmd.Context(), g, io, w, opt, stateDir, log))
		},
	}
	addRunFlags(c, f)
	fl := c.Flags()
	fl.StringVar(&f.tenant, "tenant", "", "the customer tenant: its GUID or one of its verified domains (refuses to change another tenant)")
	fl.StringVar(&epFile, "endpoints", "", "an endpoints file (written by sim serve) instead of Microsoft's cloud")
	fl.StringVar(&cloud, "cloud", "", "Microsoft cloud: global, usgov, usgovdod, china (default global)")
	fl.StringVar(&clientID, "client-id", "", "the public client application to sign in with (default: Microsoft Graph Command Line Tools)")
	fl.StringVar(&cache, "token-cache", "memory", "where tokens live: memory (sign in every run) or file (0600 in the state dir; opt-in); keyring is not supported yet")
	return c
}

func exitCode(code int) error {
	if code == 0 {
		return nil
	}
	return &exitError{code: code}
}
