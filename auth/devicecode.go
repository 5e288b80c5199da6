package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// DeviceCode is a started device-code sign-in. It shows only what the user
// needs; the secret device_code stays inside and is never printed, logged
// or marshalled.
type DeviceCode struct {
	UserCode        string
	VerificationURL string
	Message         string
	ExpiresOn       time.Time
	h               *dcHandle
}

type dcHandle struct{ dc public.DeviceCode }

// String shows the user code and URL only.
func (d DeviceCode) String() string {
	return fmt.Sprintf("DeviceCode{UserCode: %q, VerificationURL: %q, ExpiresOn: %s}",
		d.UserCode, d.VerificationURL, d.ExpiresOn.Format(time.RFC3339))
}

// GoString is String (for %#v).
func (d DeviceCode) GoString() string { return "auth." + d.String() }

// Format makes every fmt verb print String, so no verb can reach the handle.
func (d DeviceCode) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(d.GoString()))
		return
	}
	_, _ = f.Write([]byte(d.String()))
}

// MarshalJSON writes the public fields only.
func (d DeviceCode) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		UserCode        string    `json:"user_code"`
		VerificationURL string    `json:"verification_url"`
		Message         string    `json:"message"`
		ExpiresOn       time.Time `json:"expires_on"`
	}{d.UserCode, d.VerificationURL, d.Message, d.ExpiresOn})
}

// String and Format on the handle keep reflection-free printers away from the secret.
func (h *dcHandle) String() string                { return "<device code>" }
func (h *dcHandle) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte("<device code>")) }

// StartDeviceCode asks the identity platform for a device code for the
// Graph scope. Show UserCode and VerificationURL, then call AwaitDeviceCode.
// After PrestartDeviceCode, the first call takes the code that request
// brings (waiting for it if it is still on its way) instead of asking again.
func (c *Client) StartDeviceCode(ctx context.Context) (DeviceCode, error) {
	c.mu.Lock()
	p := c.prestarted
	c.prestarted = nil
	c.mu.Unlock()
	if p != nil {
		select {
		case <-p.done:
			if !p.cancelled {
				return p.dc, p.err
			}
			// Its context ended before the answer came; this caller's has
			// not: ask again.
		case <-ctx.Done():
			return DeviceCode{}, Classify(ctx.Err())
		}
	}
	return c.startDeviceCode(ctx)
}

// PrestartDeviceCode sends the device-code request now, in the background,
// for the next StartDeviceCode to take. A front-end calls it as soon as it
// knows the run will sign in with a device code, so the request does not
// wait for the rest of the start-up (the run's lock, the engine, the
// front-end) or start after the checks' connections: it needs only the
// authority. The code is handed out only through StartDeviceCode; a run that
// stops before asking for it abandons it unseen. stop ends the request if it
// is still on its way (the code it brought stays valid) and waits for it; a
// second call before StartDeviceCode sends nothing and its stop does
// nothing.
func (c *Client) PrestartDeviceCode(ctx context.Context) (stop func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prestarted != nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &prestartedCode{done: make(chan struct{})}
	c.prestarted = p
	go func() {
		defer close(p.done)
		p.dc, p.err = c.startDeviceCode(ctx)
		p.cancelled = p.err != nil && ctx.Err() != nil
	}()
	return func() {
		cancel()
		<-p.done
	}
}

// prestartedCode is a device-code request sent by PrestartDeviceCode.
type prestartedCode struct {
	done      chan struct{}
	dc        DeviceCode
	err       error
	cancelled bool // err is the prestart's own context ending
}

func (c *Client) startDeviceCode(ctx context.Context) (DeviceCode, error) {
	dc, err := c.pca.AcquireTokenByDeviceCode(ctx, strings.Fields(c.scopes.graph))
	if err != nil {
		return DeviceCode{}, Classify(err)
	}
	return DeviceCode{
		UserCode:        dc.Result.UserCode,
		VerificationURL: dc.Result.VerificationURL,
		Message:         dc.Result.Message,
		ExpiresOn:       dc.Result.ExpiresOn,
		h:               &dcHandle{dc: dc},
	}, nil
}

// AwaitDeviceCode blocks until the user finishes (or declines) the sign-in,
// the code expires (ClassExpired) or ctx ends (ClassCancelled).
func (c *Client) AwaitDeviceCode(ctx context.Context, dc DeviceCode) (Account, error) {
	if dc.h == nil {
		return Account{}, errors.New("auth: AwaitDeviceCode needs a DeviceCode from StartDeviceCode")
	}
	res, err := dc.h.dc.AuthenticationResult(ctx)
	if err != nil {
		// MSAL's own deadline is the code's ExpiresOn. A deadline before
		// then is not the code's: it is the HTTP client's timeout on a token
		// endpoint that did not answer (Classify: "Cannot reach <host>"),
		// and the code still works.
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil && !time.Now().Before(dc.ExpiresOn.Add(-time.Second)) {
			e := &Error{Err: err, OAuthError: "expired_token"}
			return Account{}, e.apply(oauthRules["expired_token"], "")
		}
		return Account{}, Classify(err)
	}
	return c.signedInWith(res), nil
}
