package sim

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"
	"sync"
)

// simPageTmpl renders (parsed on first use: every command links the simulator) /devicelogin and the authorize error page. Everything
// is escaped by html/template.
var simPageTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font-family:"Segoe UI",Helvetica,Arial,sans-serif;background:#f2f2f2;margin:0;padding:4em 1em;color:#1b1b1b}
main{background:#fff;max-width:28em;margin:0 auto;padding:2em 2.5em;box-shadow:0 2px 6px rgba(0,0,0,.2)}
.brand{color:#5e5e5e;font-size:.9em;margin:0 0 1em}
h1{font-size:1.5em;font-weight:600;margin:0 0 .8em}
.ok{color:#107c10}.err{color:#a80000}
label{display:block;margin:0 0 .4em}
input[type=text]{font-size:1.2em;letter-spacing:.1em;width:100%;box-sizing:border-box;padding:.3em .2em;border:0;border-bottom:1px solid #666}
input[type=text]:focus{outline:2px solid #0067b8;outline-offset:2px}
input[aria-invalid=true]{border-bottom-color:#a80000}
button{font-size:1em;background:#0067b8;color:#fff;border:0;padding:.5em 2.2em;cursor:pointer}
button:focus{outline:2px solid #1b1b1b;outline-offset:2px}
button.secondary{background:#fff;color:#1b1b1b;border:1px solid #8a8886}
.actions{text-align:right;margin-top:1.5em}
.hint{color:#5e5e5e;font-size:.9em}
</style></head>
<body><main>
<p class="brand">Microsoft (tenant simulator) · {{.Tenant}}</p>
<h1>{{.Title}}</h1>
{{if .Error}}<p class="err" id="result" role="alert">{{.Error}}</p>{{end}}
{{if .Success}}<p class="ok" id="result" role="status">{{.Success}}</p>{{end}}
{{range .Lines}}<p>{{.}}</p>{{end}}
{{if .Form}}<form method="post" action="/devicelogin">
<label for="otc">Enter the code displayed on your app or device.</label>
<input type="text" id="otc" name="otc" value="{{.Code}}" autocomplete="off" autocapitalize="characters" spellcheck="false" autofocus required placeholder="Code" aria-describedby="signin-as"{{if .Error}} aria-invalid="true"{{end}}>
<p class="hint" id="signin-as">You will sign in as {{.User}}.</p>
<div class="actions"><button type="submit" name="action" value="approve">Next</button> <button type="submit" name="action" value="decline" class="secondary">Cancel</button></div>
</form>{{end}}
</main></body></html>
`))
})

type simPage struct {
	Title, Tenant, Error, Success, Code, User string
	Lines                                     []string
	Form                                      bool
}

func (id *simIdentity) renderPage(w http.ResponseWriter, status int, p simPage) {
	p.Tenant = id.s.sc.Tenant.DisplayName
	simWriteHTML(w, status, simPageTmpl(), p)
}

// simWriteHTML renders tmpl with data and writes it as an uncached HTML
// page; a template error is a 500 with nothing of the page in it.
func simWriteHTML(w http.ResponseWriter, status int, tmpl *template.Template, data any) {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
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
		if r.PostForm.Get("action") == "decline" {
			if err := id.decline(code); err != nil {
				id.renderPage(w, http.StatusBadRequest, simPage{Title: "Enter code", Form: true, Error: err.Error(), Code: simClip(code, 20), User: user})
				return
			}
			id.renderPage(w, http.StatusOK, simPage{Title: "Sign-in cancelled", Error: "You declined to sign in to the application on your device. You may now close this window."})
			return
		}
		if _, err := id.approve(code); err != nil {
			id.renderPage(w, http.StatusBadRequest, simPage{Title: "Enter code", Form: true, Error: err.Error(), Code: simClip(code, 20), User: user})
			return
		}
		if _, aad, msg, refused := id.refusal(id.signInUser(), ""); refused {
			id.renderPage(w, http.StatusOK, simPage{Title: "Sorry, but we're having trouble signing you in.", Error: msg,
				Lines: []string{"Error Code: " + strconv.Itoa(aad), "Account: " + user + "."}})
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
var simFormPostTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("formpost").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Working...</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"></noscript>
</form></body></html>
`))
})

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
	simWriteHTML(w, http.StatusOK, simFormPostTmpl(), data)
}
