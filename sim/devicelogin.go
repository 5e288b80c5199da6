package sim

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"
)

// simPageTmpl renders /devicelogin and the authorize error page. Everything
// is escaped by html/template.
var simPageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:Segoe UI,Helvetica,Arial,sans-serif;max-width:34em;margin:4em auto;color:#1b1b1b}
.box{border:1px solid #ccc;padding:1.5em 2em}.ok{color:#107c10}.err{color:#a80000}
input[type=text]{font-size:1.2em;letter-spacing:.1em;width:12em}small{color:#666}</style></head>
<body><div class="box">
<p><small>Microsoft (tenant simulator) · {{.Tenant}}</small></p>
<h1>{{.Title}}</h1>
{{if .Error}}<p class="err" id="result">{{.Error}}</p>{{end}}
{{if .Success}}<p class="ok" id="result">{{.Success}}</p>{{end}}
{{range .Lines}}<p>{{.}}</p>{{end}}
{{if .Form}}<form method="post" action="/devicelogin">
<p>Enter the code displayed on your app or device.</p>
<p><input type="text" name="otc" value="{{.Code}}" autocomplete="off" autofocus placeholder="Code" aria-label="Code"></p>
<p><small>You will sign in as {{.User}}.</small></p>
<p><input type="submit" value="Next"></p>
</form>{{end}}
</div></body></html>
`))

type simPage struct {
	Title, Tenant, Error, Success, Code, User string
	Lines                                     []string
	Form                                      bool
}

func (id *simIdentity) renderPage(w http.ResponseWriter, status int, p simPage) {
	p.Tenant = id.s.sc.Tenant.DisplayName
	var buf bytes.Buffer
	if err := simPageTmpl.Execute(&buf, p); err != nil {
		http.Error(w, "page error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// deviceLoginPage is GET (the form) and POST (approve the typed code as the
// scenario's sign-in user) /devicelogin.
func (id *simIdentity) deviceLoginPage(w http.ResponseWriter, r *http.Request) {
	user := id.signInUser().UPN
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		code := r.URL.Query().Get("otc")
		if code == "" {
			code = r.URL.Query().Get("code")
		}
		id.renderPage(w, http.StatusOK, simPage{Title: "Enter code", Form: true, Code: simClip(code, 20), User: user})
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			id.renderPage(w, http.StatusBadRequest, simPage{Title: "Enter code", Form: true, Error: "The form could not be read.", User: user})
			return
		}
		code := r.PostForm.Get("otc")
		if code == "" {
			code = r.PostForm.Get("code")
		}
		if _, err := id.approve(code); err != nil {
			id.renderPage(w, http.StatusBadRequest, simPage{Title: "Enter code", Form: true, Error: err.Error(), Code: simClip(code, 20), User: user})
			return
		}
		switch id.s.sc.SignIn.Block {
		case "device-code-ca":
			id.renderPage(w, http.StatusOK, simPage{Title: "You don't have access to this", Error: "Your sign-in was successful but does not meet the criteria to access this resource. You're using an authentication flow that is restricted by your admin.",
				Lines: []string{"Error Code: 53003", "Signed in as " + user + "."}})
		case "security-defaults":
			id.renderPage(w, http.StatusOK, simPage{Title: "Sign-in blocked", Error: "Your organization's security defaults block this sign-in method.",
				Lines: []string{"Error Code: 530035", "Signed in as " + user + "."}})
		case "mfa-required":
			id.renderPage(w, http.StatusOK, simPage{Title: "More information required", Error: "Your organization requires multi-factor authentication, which this sign-in method could not complete.",
				Lines: []string{"Error Code: 50076", "Signed in as " + user + "."}})
		default:
			id.renderPage(w, http.StatusOK, simPage{Title: "You're signed in", Success: "You have signed in to the application on your device as " + user + ". You may now close this window."})
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// errorPage is what the browser shows when /authorize cannot redirect back.
func (id *simIdentity) errorPage(w http.ResponseWriter, status int, aad int, msg string) {
	id.renderPage(w, status, simPage{Title: "Sorry, but we're having trouble signing you in.", Error: "AADSTS" + strconv.Itoa(aad) + ": " + msg})
}

// simFormPostTmpl is the response_mode=form_post page: a form that the
// browser submits to the app's redirect URI.
var simFormPostTmpl = template.Must(template.New("formpost").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Working...</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"></noscript>
</form></body></html>
`))

type simFormField struct{ Name, Value string }

func (id *simIdentity) renderFormPost(w http.ResponseWriter, action string, v map[string][]string) {
	data := struct {
		Action template.URL
		Fields []simFormField
	}{Action: template.URL(action)}
	for _, k := range []string{"code", "error", "error_description", "error_uri", "state", "session_state"} {
		if vals, ok := v[k]; ok && len(vals) > 0 {
			data.Fields = append(data.Fields, simFormField{k, vals[0]})
		}
	}
	var buf bytes.Buffer
	if err := simFormPostTmpl.Execute(&buf, data); err != nil {
		http.Error(w, "page error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}
