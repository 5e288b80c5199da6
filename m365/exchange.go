package m365

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"

	"itdr-onboard/internal/httpx"
	"itdr-onboard/ui/text"
)

// Exchange is a client for the Exchange Online admin API
// (POST /adminapi/beta/{tenant}/InvokeCommand), the REST endpoint the
// ExchangeOnlineManagement v3 module uses.
type Exchange struct {
	hc     *http.Client
	url    string
	root   *url.URL
	tenant string
	anchor string
	// system, when set, anchors every call at the tenant's system mailbox
	// (AnchorAtSystemMailbox) instead of the signed-in user.
	system *systemAnchor
	// anchorErr refuses every call when the anchor cannot be a header value.
	anchorErr error
	token     TokenFunc
	pol       httpx.Policy

	reads     *readCache
	readsOnce sync.Once
}

func (x *Exchange) cache() *readCache {
	x.readsOnce.Do(func() { x.reads = newReadCache() })
	return x.reads
}

// NewExchange returns a client for baseURL (endpoints.Exchange). tenant is
// the tenant id or initial domain; anchorUPN is the signed-in admin's UPN
// (sent as X-AnchorMailbox: UPN:<anchorUPN>).
func NewExchange(hc *http.Client, baseURL, tenant string, anchorUPN string, token TokenFunc) *Exchange {
	base := strings.TrimRight(baseURL, "/")
	root, _ := url.Parse(base)
	return &Exchange{
		hc:     hc,
		url:    base + "/adminapi/beta/" + url.PathEscape(tenant) + "/InvokeCommand",
		root:   root,
		tenant: tenant,
		anchor: anchorUPN,
		anchorErr: CheckHeaderValue("X-AnchorMailbox", "the signed-in account's user name", anchorUPN,
			"sign in with an account whose user principal name has no control characters (check it in the Microsoft 365 admin center → Users), then retry"),
		token: token,
	}
}

// The tenant's system mailboxes (gdap.md §1.7; CIPP New-ExoRequest.ps1).
const (
	SystemMailboxDefault = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"
	// SystemMailboxAudit holds the admin audit log configuration:
	// Set-AdminAuditLogConfig anchored elsewhere fails with "Cmdlet needs
	// proxy" (I-pnp4677).
	SystemMailboxAudit = "SystemMailbox{8cc370d3-822a-4ab8-a926-bb94bd0641a9}"
)

type systemAnchor struct{ tenantID, initialDomain string }

func (a systemAnchor) anchor(cmdlet string) string {
	if strings.EqualFold(cmdlet, "Set-AdminAuditLogConfig") {
		dom := a.initialDomain
		if dom == "" {
			dom = a.tenantID
		}
		return "UPN:" + SystemMailboxAudit + "@" + dom
	}
	return "APP:" + SystemMailboxDefault + "@" + a.tenantID
}

// AnchorAtSystemMailbox routes every call by the tenant's system mailbox
// instead of the signed-in user's: a partner user over GDAP has no mailbox
// in a customer tenant, so a UPN anchor cannot route (gdap.md §1.7). Every
// cmdlet is anchored at APP:SystemMailbox{bb558c35-…}@{tenant id};
// Set-AdminAuditLogConfig at UPN:SystemMailbox{8cc370d3-…}@{initial domain}
// (the audit log mailbox). Call it before the first request.
func (x *Exchange) AnchorAtSystemMailbox(tenantID, initialDomain string) {
	x.system = &systemAnchor{tenantID: tenantID, initialDomain: initialDomain}
	x.anchorErr = nil
}

// HeaderValueError refuses a value that would go into an HTTP header but
// holds a control character: Go's HTTP client would reject every request
// carrying it with no word about which value was wrong.
type HeaderValueError struct {
	Header string // X-AnchorMailbox
	What   string // "the signed-in account's user name"
	Value  string
	Rune   rune
	Pos    int // 1-based character position of the first control character
	Remedy string
}

func (e *HeaderValueError) Error() string {
	return fmt.Sprintf("%s %s holds the control character U+%04X (character %d), which cannot be sent in the %s header Exchange needs",
		e.What, text.Quote(e.Value), e.Rune, e.Pos, e.Header)
}

// CheckHeaderValue returns a *HeaderValueError when v holds a C0 or C1
// control character or DEL (RFC 9110 §5.5 allows none but horizontal tab,
// and a tab in a user name is no more sendable), nil otherwise.
func CheckHeaderValue(header, what, v, remedy string) error {
	pos := 0
	for _, r := range v {
		pos++
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return &HeaderValueError{Header: header, What: what, Value: v, Rune: r, Pos: pos, Remedy: remedy}
		}
	}
	return nil
}

// SetRetryPolicy replaces the retry policy (tests inject Sleep and Now).
func (x *Exchange) SetRetryPolicy(p RetryPolicy) { x.pol = p }

// String never shows a token.
func (x *Exchange) String() string { return "m365.Exchange{" + x.url + "}" }

// exchangeResult is one page of an InvokeCommand answer.
type exchangeResult struct {
	Value    []json.RawMessage `json:"value"`
	NextLink string            `json:"@odata.nextLink"`
	Warnings []string          `json:"@adminapi.warnings"`
}

// DecodeExchangeResult decodes one page of an InvokeCommand answer: the
// result objects, the next page link ("" on the last page) and any
// warnings. A body without "value" (some Set-* cmdlets) gives no objects.
func DecodeExchangeResult(body []byte) (items []json.RawMessage, next string, warnings []string, err error) {
	var r exchangeResult
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, "", nil, nil
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, "", nil, err
	}
	return r.Value, r.NextLink, r.Warnings, nil
}

// idempotentCmdlet reports cmdlets that are safe to repeat as they are.
func idempotentCmdlet(cmdlet string) bool {
	verb, _, _ := strings.Cut(cmdlet, "-")
	switch strings.ToLower(verb) {
	case "get", "set", "enable", "disable", "test":
		return true
	}
	return false
}

// Invoke runs a cmdlet and decodes its result objects (all pages, following
// @odata.nextLink) into out: a pointer to a slice receives every object, a
// pointer to anything else the first one; nil discards them. Get-/Set-/
// Enable-/Disable-/Test- cmdlets are retried on transient failures; other
// cmdlets only after 429 (use the typed methods, which re-check, for
// New-/Remove- cmdlets). It returns the request id of the last response.
func (x *Exchange) Invoke(ctx context.Context, cmdlet string, params map[string]any, out any) (string, error) {
	return x.invoke(ctx, cmdlet, params, out, idempotentCmdlet(cmdlet), nil)
}

func (x *Exchange) invoke(ctx context.Context, cmdlet string, params map[string]any, out any, idempotent bool,
	recheck func(context.Context) (bool, error)) (string, error) {
	if x.anchorErr != nil {
		return "", x.anchorErr
	}
	if params == nil {
		params = map[string]any{}
	}
	if !strings.HasPrefix(cmdlet, "Get-") {
		// A write drops every cached read, except New-ManagementRoleAssignment,
		// whose own response is folded into its role group's entry.
		scoped := cmdlet == "New-ManagementRoleAssignment"
		x.cache().invalidate(scoped)
		defer x.cache().invalidate(scoped)
	}
	body, err := json.Marshal(map[string]any{"CmdletInput": map[string]any{"CmdletName": cmdlet, "Parameters": params}})
	if err != nil {
		return "", fmt.Errorf("exchange: %s: encoding parameters: %w", cmdlet, err)
	}
	call := "InvokeCommand " + cmdlet
	h := http.Header{
		"X-CmdletName":     {cmdlet},
		"X-ResponseFormat": {"json"},
		"Prefer":           {"odata.maxpagesize=1000"},
		"Content-Type":     {"application/json"},
	}
	if x.system != nil {
		h.Set("X-AnchorMailbox", x.system.anchor(cmdlet))
	} else if x.anchor != "" {
		h.Set("X-AnchorMailbox", "UPN:"+x.anchor)
	}
	var all []json.RawMessage
	u := x.url
	seen := map[string]bool{}
	var reqID string
	for page := 0; ; page++ {
		if page >= maxPages {
			return reqID, fmt.Errorf("exchange: %s: more than %d pages; giving up", call, maxPages)
		}
		resp, err := httpx.Do(ctx, x.hc, x.pol, httpx.Request{
			Method:     http.MethodPost,
			URL:        u,
			Call:       call,
			Header:     h,
			Body:       body,
			Authorize:  bearer(ServiceExchange, x.token),
			Idempotent: idempotent || page > 0,
			Recheck:    recheck,
			ParseError: func(r *httpx.Response) error {
				e := ParseExchangeError(call, r.Status, r.Header, r.Body)
				if e.RequestID == "" {
					e.RequestID = r.RequestID
				}
				return e
			},
		})
		if resp != nil {
			reqID = resp.RequestID
		}
		if errors.Is(err, httpx.ErrAlreadyDone) {
			return reqID, err
		}
		if err != nil {
			if resp != nil && resp.Attempts > 1 {
				// Let callers see that an earlier attempt may have acted.
				return reqID, &retriedError{err: wrapErr(ServiceExchange, err)}
			}
			return reqID, wrapErr(ServiceExchange, err)
		}
		items, next, _, err := DecodeExchangeResult(resp.Body)
		if err != nil {
			return reqID, fmt.Errorf("exchange: %s: decoding response (request id %s): %w", call, reqID, err)
		}
		all = append(all, items...)
		if next == "" {
			break
		}
		if seen[next] {
			return reqID, fmt.Errorf("exchange: %s: next page link repeats; giving up (request id %s)", call, reqID)
		}
		seen[next] = true
		nu, perr := url.Parse(next)
		if perr != nil || x.root == nil || !strings.EqualFold(nu.Host, x.root.Host) || !strings.EqualFold(nu.Scheme, x.root.Scheme) {
			return reqID, fmt.Errorf("exchange: %s: refusing to follow a next page link to another host", call)
		}
		u = next
	}
	if out == nil {
		return reqID, nil
	}
	if err := decodeItems(all, out); err != nil {
		return reqID, fmt.Errorf("exchange: %s: decoding result (request id %s): %w", call, reqID, err)
	}
	return reqID, nil
}

// retriedError marks an error returned after more than one attempt.
type retriedError struct{ err error }

func (e *retriedError) Error() string { return e.err.Error() }
func (e *retriedError) Unwrap() error { return e.err }

func wasRetried(err error) bool {
	var r *retriedError
	return errors.As(err, &r)
}

func decodeItems(items []json.RawMessage, out any) error {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("out must be a non-nil pointer")
	}
	if rv.Elem().Kind() == reflect.Slice {
		if items == nil {
			items = []json.RawMessage{}
		}
		b, err := json.Marshal(items)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, out)
	}
	if len(items) == 0 {
		return nil
	}
	return json.Unmarshal(items[0], out)
}

// OrganizationConfig runs Get-OrganizationConfig.
func (x *Exchange) OrganizationConfig(ctx context.Context) (OrgConfig, error) {
	var c OrgConfig
	_, err := x.Invoke(ctx, "Get-OrganizationConfig", nil, &c)
	return c, err
}

// IsAlreadyCustomized reports Exchange's answer to
// Enable-OrganizationCustomization when the organization is already
// enabled for customization ("This operation is not required. Organization
// is already enabled for customization."): another session did it first.
func IsAlreadyCustomized(err error) bool {
	ae, ok := asAPIError(err)
	if !ok {
		return false
	}
	m := strings.ToLower(ae.Message)
	return strings.Contains(m, "already enabled for customization") || strings.Contains(m, "operation is not required")
}

// EnableOrganizationCustomization runs Enable-OrganizationCustomization.
// The "already enabled" answer is returned as the error (with its request
// id), for which IsAlreadyCustomized is true: the caller records it as
// found (in place already), not as a change this run made. After a retry
// it counts as success: an earlier attempt of this call may have done it.
func (x *Exchange) EnableOrganizationCustomization(ctx context.Context) (string, error) {
	id, err := x.Invoke(ctx, "Enable-OrganizationCustomization", nil, nil)
	if err != nil && IsAlreadyCustomized(err) {
		if ae, ok := asAPIError(err); ok && ae.RequestID != "" {
			id = ae.RequestID
		}
		if wasRetried(err) {
			return id, nil
		}
	}
	return id, err
}

// AdminAuditLogConfig runs Get-AdminAuditLogConfig.
func (x *Exchange) AdminAuditLogConfig(ctx context.Context) (AuditConfig, error) {
	var c AuditConfig
	_, err := x.Invoke(ctx, "Get-AdminAuditLogConfig", nil, &c)
	return c, err
}

// SetUnifiedAuditLogIngestion runs Set-AdminAuditLogConfig
// -UnifiedAuditLogIngestionEnabled.
func (x *Exchange) SetUnifiedAuditLogIngestion(ctx context.Context, enabled bool) (string, error) {
	return x.Invoke(ctx, "Set-AdminAuditLogConfig", map[string]any{"UnifiedAuditLogIngestionEnabled": enabled}, nil)
}

// RoleGroupRoles lists the regular (non-delegating) management role
// assignments of a role group (Get-ManagementRoleAssignment -RoleAssignee).
func (x *Exchange) RoleGroupRoles(ctx context.Context, roleGroup string) ([]ManagementRoleAssignment, error) {
	key := rgKey(roleGroup)
	v, ok, gen := x.cache().get(ctx, key)
	if ok {
		return slices.Clone(v.([]ManagementRoleAssignment)), nil
	}
	var rows []ManagementRoleAssignment
	id, err := x.Invoke(ctx, "Get-ManagementRoleAssignment", map[string]any{"RoleAssignee": roleGroup}, &rows)
	if err != nil {
		return nil, err
	}
	out := rows[:0]
	for _, r := range rows {
		if r.RoleAssignmentDelegationType != "" && !strings.EqualFold(r.RoleAssignmentDelegationType, "Regular") {
			continue
		}
		r.RequestID = id
		out = append(out, r)
	}
	x.cache().put(key, slices.Clone(out), gen)
	return out, nil
}

func findRole(rows []ManagementRoleAssignment, role string) *ManagementRoleAssignment {
	for i := range rows {
		if strings.EqualFold(rows[i].Role, role) {
			return &rows[i]
		}
	}
	return nil
}

// NewManagementRoleAssignment assigns a management role to a role group
// (New-ManagementRoleAssignment -Role -SecurityGroup). Before any retry, and
// after an "already exists" answer, it looks the assignment up and returns
// the existing one instead of creating a duplicate.
func (x *Exchange) NewManagementRoleAssignment(ctx context.Context, role, roleGroup string) (ManagementRoleAssignment, error) {
	var found *ManagementRoleAssignment
	lookup := func(ctx context.Context) (bool, error) {
		// Read afresh: a sibling write may have cached the list just
		// before another client's assignment landed.
		rows, err := x.RoleGroupRoles(Uncached(ctx), roleGroup)
		if err != nil {
			return false, err
		}
		found = findRole(rows, role)
		return found != nil, nil
	}
	var created ManagementRoleAssignment
	id, err := x.invoke(ctx, "New-ManagementRoleAssignment", map[string]any{"Role": role, "SecurityGroup": roleGroup},
		&created, false, lookup)
	key := rgKey(roleGroup)
	if ok, conflict, werr := resolveWrite(ctx, wasRetried(err), err, lookup); ok && found != nil {
		x.cache().invalidate(true, key)
		a := *found
		a.Found = conflict
		return a, nil
	} else if werr != nil {
		x.cache().invalidate(true, key)
		return ManagementRoleAssignment{}, werr
	}
	created.RequestID = id
	if created.Role == "" {
		created.Role = role
	}
	// The response answers the next read of the group's roles: fold it in
	// when it is a regular, enabled assignment (anything else: read afresh).
	if created.Enabled && (created.RoleAssignmentDelegationType == "" || strings.EqualFold(created.RoleAssignmentDelegationType, "Regular")) {
		x.cache().fold(key, func(v any) any { return append(slices.Clone(v.([]ManagementRoleAssignment)), created) })
	} else {
		x.cache().invalidate(true, key)
	}
	return created, nil
}

func rgKey(roleGroup string) string { return "rg:" + strings.ToLower(roleGroup) }

// RemoveManagementRoleAssignment removes a management role assignment by
// identity (its Name or Guid). "Not found" after a retry counts as done.
func (x *Exchange) RemoveManagementRoleAssignment(ctx context.Context, identity string) (string, error) {
	id, err := x.invoke(ctx, "Remove-ManagementRoleAssignment", map[string]any{"Identity": identity}, nil, true, nil)
	if err != nil && IsNotFound(err) && wasRetried(err) {
		return id, nil
	}
	return id, err
}
