package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"itdr-onboard/auth"
	"itdr-onboard/endpoints"
)

// connFlags are the flags that say where the services are: shared by every
// command that talks to a tenant.
type connFlags struct {
	endpointsFile, cloud, clientID, tokenCache string
}

// selectEndpoints picks the endpoints: an endpoints file, --cloud, or the
// cloud detected from the tenant's public openid-configuration (before
// sign-in), falling back to Microsoft's global cloud.
func selectEndpoints(ctx context.Context, c connFlags, tenant string, notice io.Writer) (endpoints.Endpoints, error) {
	ep, _, err := selectEndpointsClient(ctx, c, tenant, notice)
	return ep, err
}

// selectEndpointsClient is selectEndpoints that also returns the HTTP
// client the cloud detection used when the run stays on those endpoints
// (nil when there was no detection or it chose another cloud). Handed to
// wire (wireOptions.HTTPClient), it lets the sign-in reuse the detection's
// connection to the login host instead of a second TCP and TLS handshake.
func selectEndpointsClient(ctx context.Context, c connFlags, tenant string, notice io.Writer) (endpoints.Endpoints, *http.Client, error) {
	var ep endpoints.Endpoints
	var hc *http.Client
	var err error
	switch {
	case c.endpointsFile != "":
		ep, err = endpoints.Load(c.endpointsFile)
		if err != nil {
			return ep, nil, usageError("%v", err)
		}
	case c.cloud != "":
		ep, err = endpoints.ForCloud(c.cloud)
		if err != nil {
			return ep, nil, usageError("--cloud: %v", err)
		}
	default:
		ep = endpoints.Global()
	}
	if ep.CACertPEM == "" {
		if err := endpoints.CheckEnvironment(); err != nil {
			return ep, nil, usageError("%v", err)
		}
	}
	if c.endpointsFile == "" && c.cloud == "" {
		if tenant != "" {
			ep, hc = detectCloud(ctx, ep, tenant, notice)
		}
	}
	if c.clientID != "" {
		if !auth.IsGUID(c.clientID) {
			return ep, nil, usageError("--client-id %q is not an application (client) id GUID", c.clientID)
		}
		ep.ClientID = c.clientID
	}
	return ep, hc, nil
}

// detectCloud asks the global authority about the tenant; a tenant of a
// sovereign cloud answers with its cloud's issuer. A failed lookup keeps the
// global cloud (the prerequisites step reports an unknown tenant). It
// returns the client it asked with when the global cloud stays (nil
// otherwise).
func detectCloud(ctx context.Context, global endpoints.Endpoints, tenant string, notice io.Writer) (endpoints.Endpoints, *http.Client) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	hc := global.HTTPClient()
	info, err := auth.ResolveTenant(ctx, hc, global, tenant)
	if err != nil || info.Cloud == "" || info.Cloud == endpoints.CloudGlobal {
		return global, hc
	}
	ep, err := endpoints.ForCloud(info.Cloud)
	if err != nil {
		return global, hc
	}
	hc.CloseIdleConnections()
	fmt.Fprintf(notice, "Tenant %s is in the %s cloud; using %s (override with --cloud).\n", tenant, info.Cloud, ep.Authority)
	return ep, nil
}
