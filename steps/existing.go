package steps

import (
	"fmt"
	"strings"

	"itdr-onboard/platform"
	"itdr-onboard/ui/text"
)

// FindIntegration looks up the tenant's existing integration on the
// platform (right after sign-in, before any change), so a tenant mapped to
// another organization stops the run before the role fixes touch it.
type FindIntegration struct{}

// IntegrationFound answers FindIntegration; Integration is nil when the
// tenant is not mapped.
type IntegrationFound struct {
	Integration *platform.Integration
	Err         error
}

func (FindIntegration) isEffect() {}
func (IntegrationFound) isEvent() {}

// mappedElsewhere reports whether an existing integration belongs to an
// organization other than the one --org names.
func mappedElsewhere(in *platform.Integration, org string) bool {
	if in == nil || org == "" {
		return false
	}
	org = strings.TrimSpace(org)
	return in.OrganizationID != org && !strings.EqualFold(in.OrganizationName, org)
}

func alreadyMappedFailure(in *platform.Integration, want string) *Failure {
	return &Failure{Kind: FailStopped,
		Message: fmt.Sprintf("This tenant is already mapped to the organization %s (%s). Nothing was changed.", text.Quote(in.OrganizationName), text.Line(in.OrganizationID)),
		Remedy:  fmt.Sprintf("To move it to %s, run again with --remap; to keep it, nothing needs doing (check it with: itdr-onboard status --tenant %s).", want, in.TenantID)}
}
