package sim

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// PlayBrowser "plays the browser" for demo and tests: it GETs the authorize
// URL with the simulator's client (the sign-in user approves at once), then
// delivers the result to the http://localhost:PORT redirect URI so MSAL's
// local server receives the code and state (a form POST for
// response_mode=form_post, which MSAL Go uses; a GET for query mode).
// It also accepts the simulator's admin consent URL (/adminconsent): the
// sign-in user grants consent; a redirect to a non-localhost page is not
// followed. Errors carry the AADSTS text but never a code.
func (s *Server) PlayBrowser(ctx context.Context, authorizeURL string) error {
	au, err := url.Parse(authorizeURL)
	if err != nil || !strings.EqualFold(au.Scheme+"://"+au.Host, s.base) {
		return errors.New("sim: PlayBrowser: the URL is not this simulator's")
	}
	c := s.HTTPClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authorizeURL, nil)
	if err != nil {
		return fmt.Errorf("sim: PlayBrowser: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("sim: PlayBrowser: %w", simScrubURLError(err))
	}
	page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusFound:
		return simFollowRedirect(ctx, resp.Header.Get("Location"))
	case resp.StatusCode == http.StatusOK && simFormActionRe().Match(page):
		return simSubmitFormPost(ctx, string(page))
	case resp.StatusCode == http.StatusOK:
		return nil // a result page (admin consent without redirect_uri)
	}
	if m := simAADSTSRe().FindString(html.UnescapeString(string(page))); m != "" {
		return fmt.Errorf("sim: PlayBrowser: the page answered %d: %s", resp.StatusCode, simClip(m, 400))
	}
	return fmt.Errorf("sim: PlayBrowser: the page answered %d", resp.StatusCode)
}

var simAADSTSRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`AADSTS\d+:[^<]*`) })

func simFollowRedirect(ctx context.Context, location string) error {
	loc, err := url.Parse(location)
	if err != nil {
		return errors.New("sim: PlayBrowser: bad redirect")
	}
	local := loc.Scheme == "http" && strings.EqualFold(loc.Hostname(), "localhost")
	if e := loc.Query().Get("error"); e != "" {
		if local {
			// Deliver the error to the app too (as a browser would).
			_ = simDeliver(ctx, http.MethodGet, loc.String(), nil)
		}
		return fmt.Errorf("sim: PlayBrowser: sign-in failed: %s: %s", e, simClip(loc.Query().Get("error_description"), 400))
	}
	if !local {
		return nil // e.g. the vendor's consent landing page: not followed offline
	}
	if err := simDeliver(ctx, http.MethodGet, loc.String(), nil); err != nil {
		return fmt.Errorf("sim: PlayBrowser: redirect to the app: %w", err)
	}
	return nil
}

var (
	simFormActionRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`<form method="post" action="([^"]*)">`) })
	simFormFieldRe  = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	})
)

// simSubmitFormPost does what the browser does with a form_post page.
func simSubmitFormPost(ctx context.Context, page string) error {
	m := simFormActionRe().FindStringSubmatch(page)
	if m == nil {
		return errors.New("sim: PlayBrowser: authorize answered a page without a form_post form")
	}
	action := html.UnescapeString(m[1])
	loc, err := url.Parse(action)
	if err != nil || loc.Scheme != "http" || !strings.EqualFold(loc.Hostname(), "localhost") {
		return errors.New("sim: PlayBrowser: form_post target is not http://localhost")
	}
	form := url.Values{}
	for _, f := range simFormFieldRe().FindAllStringSubmatch(page, -1) {
		form.Set(html.UnescapeString(f[1]), html.UnescapeString(f[2]))
	}
	derr := simDeliver(ctx, http.MethodPost, action, form)
	if e := form.Get("error"); e != "" {
		return fmt.Errorf("sim: PlayBrowser: sign-in failed: %s: %s", e, simClip(form.Get("error_description"), 300))
	}
	if derr != nil {
		return fmt.Errorf("sim: PlayBrowser: form_post to the app: %w", derr)
	}
	return nil
}

// simDeliver sends the result to the local redirect URI over plain http,
// without a proxy.
func simDeliver(ctx context.Context, method, u string, form url.Values) error {
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return errors.New("bad redirect URI")
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return simScrubURLError(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return fmt.Errorf("the app's redirect page answered %d", resp.StatusCode)
	}
	return nil
}

// simScrubURLError drops the URL (which may carry a code) from a *url.Error.
func simScrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
