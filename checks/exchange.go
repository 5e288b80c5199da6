package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"itdr-onboard/m365"
)

// Change orders: customization first, then role changes, then audit.
const (
	OrderEnableCustomization = 0
	OrderRoleGroup           = 10
	OrderCreateSP            = 10
	OrderSPRole              = 20
	OrderAuditLog            = 30
)

// ErrUnknownChange is returned by Apply for a change the check did not plan.
var ErrUnknownChange = errors.New("unknown change")

func noOp(ch Change) Applied { return Applied{Change: ch, At: time.Now(), NoOp: true} }

func done(ch Change, requestID string) Applied {
	return Applied{Change: ch, At: time.Now(), RequestID: requestID}
}

// foundOnWrite is a change the service answered "already exists" to: it
// was made between the re-check and the write by someone else (another
// run, technician or state dir), so it is recorded as found — with what
// was found — never as applied by this run.
func foundOnWrite(ch Change, requestID, service, what string) Applied {
	return Applied{Change: ch, At: time.Now(), RequestID: requestID, NoOp: true,
		Note: service + " answered that it already exists: found " + what + ", made by another run or technician, not by this run"}
}

// ---- exo.audit-log ----

type auditLog struct {
	meta
	x ExchangeAPI
}

// NewAuditLog checks (and can turn on) unified audit log ingestion.
func NewAuditLog(x ExchangeAPI) Check {
	return &auditLog{
		meta: meta{id: IDAuditLog, title: "Unified audit logging",
			step: StepPrereqs, phase: Tenant, sev: Required},
		x: x,
	}
}

const auditChangeID = IDAuditLog + "/enable"

func (c *auditLog) Run(ctx context.Context) Result {
	if c.x == nil {
		return skipped("not signed in to Exchange Online")
	}
	cfg, err := c.x.AdminAuditLogConfig(ctx)
	if err != nil {
		return c.undecided("could not read the audit log configuration (Get-AdminAuditLogConfig)",
			"retry; if it keeps failing, check in Exchange Online PowerShell with Get-AdminAuditLogConfig | fl UnifiedAuditLogIngestionEnabled", err)
	}
	if cfg.UnifiedAuditLogIngestionEnabled {
		return Result{Outcome: Pass, Summary: "unified audit log ingestion is enabled (Get-AdminAuditLogConfig)"}
	}
	return Result{Outcome: Fail,
		Summary: "unified audit log ingestion is disabled (Get-AdminAuditLogConfig: UnifiedAuditLogIngestionEnabled is False)",
		Remedy:  "let the wizard turn it on, or run Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true in Exchange Online PowerShell (or Microsoft Purview portal → Audit → Start recording)",
		Changes: []Change{{
			ID: auditChangeID, CheckID: IDAuditLog, Order: OrderAuditLog,
			Summary: "Turn on unified audit log ingestion",
			Call:    "Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true",
			Warning: "can take up to 60 minutes to take effect",
		}}}
}

func (c *auditLog) Apply(ctx context.Context, ch Change) (Applied, error) {
	if ch.ID != auditChangeID {
		return Applied{}, fmt.Errorf("%s: %w %q", IDAuditLog, ErrUnknownChange, ch.ID)
	}
	if c.x == nil {
		return Applied{}, errors.New("not signed in to Exchange Online")
	}
	cfg, err := c.x.AdminAuditLogConfig(ctx)
	if err != nil {
		return Applied{}, fmt.Errorf("re-reading the audit log configuration: %w", err)
	}
	if cfg.UnifiedAuditLogIngestionEnabled {
		return noOp(ch), nil
	}
	rid, err := c.x.SetUnifiedAuditLogIngestion(ctx, true)
	if err != nil {
		return Applied{}, err
	}
	return done(ch, rid), nil
}

// ---- exo.dehydrated ----

type dehydrated struct {
	meta
	x ExchangeAPI
}

// NewDehydrated checks (and can fix) a dehydrated Exchange organization,
// which must be customized before role groups or the audit config change.
func NewDehydrated(x ExchangeAPI) Check {
	return &dehydrated{
		meta: meta{id: IDDehydrated, title: "Exchange organization customization",
			step: StepRoles, phase: Tenant, sev: Required},
		x: x,
	}
}

const dehydratedChangeID = IDDehydrated + "/enable-customization"

func (c *dehydrated) Run(ctx context.Context) Result {
	if c.x == nil {
		return skipped("not signed in to Exchange Online")
	}
	cfg, err := c.x.OrganizationConfig(ctx)
	if err != nil {
		return c.undecided("could not read the Exchange organization configuration (Get-OrganizationConfig)",
			"retry; if it keeps failing, check in Exchange Online PowerShell with Get-OrganizationConfig | fl IsDehydrated", err)
	}
	if !cfg.IsDehydrated {
		return Result{Outcome: Pass, Summary: "Exchange organization is customizable (Get-OrganizationConfig: IsDehydrated is False)"}
	}
	return Result{Outcome: Fail,
		Summary: "Exchange organization is dehydrated (IsDehydrated is True): role groups and audit settings cannot be changed yet",
		Remedy:  "let the wizard run Enable-OrganizationCustomization, or run it in Exchange Online PowerShell",
		Changes: []Change{{
			ID: dehydratedChangeID, CheckID: IDDehydrated, Order: OrderEnableCustomization,
			Summary: "Enable Exchange organization customization",
			Call:    "Enable-OrganizationCustomization",
			Warning: "Microsoft may take a while to finish this; later Exchange changes can fail until it has finished",
		}}}
}

func (c *dehydrated) Apply(ctx context.Context, ch Change) (Applied, error) {
	if ch.ID != dehydratedChangeID {
		return Applied{}, fmt.Errorf("%s: %w %q", IDDehydrated, ErrUnknownChange, ch.ID)
	}
	if c.x == nil {
		return Applied{}, errors.New("not signed in to Exchange Online")
	}
	cfg, err := c.x.OrganizationConfig(ctx)
	if err != nil {
		return Applied{}, fmt.Errorf("re-reading the organization configuration: %w", err)
	}
	if !cfg.IsDehydrated {
		return noOp(ch), nil
	}
	rid, err := c.x.EnableOrganizationCustomization(ctx)
	if err != nil {
		// Exchange answers this when another session already did it.
		if m365.IsAlreadyCustomized(err) || strings.Contains(strings.ToLower(err.Error()), "already enabled for customization") {
			return foundOnWrite(ch, rid, "Exchange Online", "the organization enabled for customization"), nil
		}
		return Applied{}, err
	}
	return done(ch, rid), nil
}
