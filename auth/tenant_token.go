package auth

import (
	"context"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// TokenForTenant returns an access token for scope in another tenant than
// the one signed in to — a GDAP customer tenant for a partner user. MSAL
// redeems the signed-in account's refresh token at that tenant's authority
// (AcquireTokenSilent with WithTenantID); access tokens are cached per
// tenant, the refresh token is shared. tenantID must be a GUID or domain.
// A failure (AADSTS65001, 53003, 650052, 50020 …) is classified.
func (c *Client) TokenForTenant(ctx context.Context, scope, tenantID string) (string, error) {
	acct, ok := c.silentAccount()
	if !ok {
		return "", Classify(errNotSignedIn)
	}
	res, err := c.pca.AcquireTokenSilent(ctx, []string{scope}, public.WithSilentAccount(acct), public.WithTenantID(tenantID))
	if err != nil {
		return "", Classify(err)
	}
	return res.AccessToken, nil
}
