package m365

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"itdr-onboard/internal/httpx"
)

// Service names used in APIError.Service.
const (
	ServiceGraph    = "graph"
	ServiceExchange = "exchange"
)

// APIError is a non-2xx answer from Graph or the Exchange admin API.
type APIError struct {
	Service string // graph | exchange
	// Call is "POST /servicePrincipals" or "InvokeCommand Get-OrganizationConfig"
	// (never query values).
	Call      string
	Status    int
	Code      string
	Message   string
	RequestID string
	// ExceptionType is the .NET exception type from an Exchange error
	// (details "<id>|<type>|<text>" or innererror.internalexception.type).
	ExceptionType string
	// RetryAfter is the wait the service asked for, if any.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Service)
	b.WriteString(": ")
	b.WriteString(e.Call)
	b.WriteString(": HTTP ")
	b.WriteString(strconv.Itoa(e.Status))
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.ExceptionType != "" {
		b.WriteString(" (")
		b.WriteString(e.ExceptionType)
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request id ")
		b.WriteString(e.RequestID)
		b.WriteString(")")
	}
	return b.String()
}

// maxErrorText bounds the message kept from an error body.
const maxErrorText = 2000

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxErrorText {
		s = s[:maxErrorText] + "…"
	}
	return s
}

// graphErrorBody is Graph's error shape; innerError and innererror are both
// seen in the wild.
type graphErrorBody struct {
	Error *struct {
		Code       string          `json:"code"`
		Message    string          `json:"message"`
		InnerError *graphInner     `json:"innerError"`
		InnerLower *graphInner     `json:"innererror"`
		Details    json.RawMessage `json:"details"`
	} `json:"error"`
}

type graphInner struct {
	Code            string      `json:"code"`
	Message         string      `json:"message"`
	RequestID       string      `json:"request-id"`
	ClientRequestID string      `json:"client-request-id"`
	InnerError      *graphInner `json:"innerError"`
	InnerLower      *graphInner `json:"innererror"`
}

// ParseGraphError builds an APIError from a Graph error response. It never
// fails: an unparseable body gives an error naming the status.
func ParseGraphError(call string, status int, header http.Header, body []byte) *APIError {
	e := &APIError{Service: ServiceGraph, Call: call, Status: status}
	if header != nil {
		e.RequestID = header.Get("request-id")
		e.RetryAfter = httpx.RetryAfter(header, time.Now())
	}
	var gb graphErrorBody
	if json.Unmarshal(body, &gb) == nil && gb.Error != nil {
		e.Code = gb.Error.Code
		e.Message = clip(gb.Error.Message)
		inner := gb.Error.InnerError
		if inner == nil {
			inner = gb.Error.InnerLower
		}
		for depth := 0; inner != nil && depth < 8; depth++ {
			if e.RequestID == "" && inner.RequestID != "" {
				e.RequestID = inner.RequestID
			}
			if e.Message == "" && inner.Message != "" {
				e.Message = clip(inner.Message)
			}
			next := inner.InnerError
			if next == nil {
				next = inner.InnerLower
			}
			inner = next
		}
	} else if len(body) > 0 {
		e.Message = clip(firstLine(string(body)))
	}
	if e.Code == "" {
		e.Code = http.StatusText(status)
	}
	return e
}

// exchangeErrorBody is the admin API's error shape.
type exchangeErrorBody struct {
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Code    string `json:"code"`
			Target  string `json:"target"`
			Message string `json:"message"`
		} `json:"details"`
		InnerError *exchangeInner `json:"innererror"`
		InnerUpper *exchangeInner `json:"innerError"`
	} `json:"error"`
}

type exchangeInner struct {
	Message           string         `json:"message"`
	Type              string         `json:"type"`
	InternalException *exchangeInner `json:"internalexception"`
}

// ParseExchangeError builds an APIError from an InvokeCommand error response.
// The detail message "<id>|<exception type>|<text>" gives ExceptionType and
// Message; otherwise innererror.internalexception is used.
func ParseExchangeError(call string, status int, header http.Header, body []byte) *APIError {
	e := &APIError{Service: ServiceExchange, Call: call, Status: status}
	if header != nil {
		e.RequestID = header.Get("request-id")
		if e.RequestID == "" {
			e.RequestID = header.Get("X-Request-Id")
		}
		e.RetryAfter = httpx.RetryAfter(header, time.Now())
	}
	var xb exchangeErrorBody
	if json.Unmarshal(body, &xb) == nil && xb.Error != nil {
		e.Code = xb.Error.Code
		e.Message = clip(xb.Error.Message)
		for _, d := range xb.Error.Details {
			parts := strings.SplitN(d.Message, "|", 3)
			if len(parts) == 3 {
				e.ExceptionType = strings.TrimSpace(parts[1])
				e.Message = clip(parts[2])
				break
			}
			if d.Message != "" && (e.Message == "" || e.Message == "Error executing cmdlet") {
				e.Message = clip(d.Message)
			}
		}
		if e.ExceptionType == "" {
			inner := xb.Error.InnerError
			if inner == nil {
				inner = xb.Error.InnerUpper
			}
			// The deepest internal exception is the real cause.
			for depth := 0; inner != nil && depth < 8; depth++ {
				if inner.InternalException == nil {
					if depth > 0 || e.Message == "" || e.Message == "Error executing cmdlet" {
						if inner.Type != "" {
							e.ExceptionType = inner.Type
						}
						if inner.Message != "" {
							e.Message = clip(inner.Message)
						}
					}
					break
				}
				inner = inner.InternalException
			}
		}
	} else if len(body) > 0 {
		e.Message = clip(firstLine(string(body)))
	}
	if e.Code == "" {
		e.Code = http.StatusText(status)
	}
	return e
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return s
}

func asAPIError(err error) (*APIError, bool) {
	var ae *APIError
	ok := errors.As(err, &ae)
	return ae, ok
}

// IsNotFound reports a 404 / Request_ResourceNotFound / Exchange
// ManagementObjectNotFoundException.
func IsNotFound(err error) bool {
	ae, ok := asAPIError(err)
	if !ok {
		return false
	}
	if ae.Status == http.StatusNotFound {
		return true
	}
	switch ae.Code {
	case "Request_ResourceNotFound", "ResourceNotFound", "NotFound", "ErrorItemNotFound":
		return true
	}
	return strings.Contains(ae.ExceptionType, "NotFoundException")
}

// IsConflict reports that the object already exists: 409,
// Request_MultipleObjectsWithSameKeyValue, the directory's 400s for a
// duplicate ("A conflicting object with one or more of the specified
// property values is present in the directory." for a role assignment,
// "Permission being assigned already exists on the object" for an app role
// assignment, "One or more added object references already exist" for a
// member reference), or an Exchange "already exists" exception. Callers
// look the object up before treating it as there.
func IsConflict(err error) bool {
	ae, ok := asAPIError(err)
	if !ok {
		return false
	}
	if ae.Status == http.StatusConflict || ae.Code == "Request_MultipleObjectsWithSameKeyValue" {
		return true
	}
	if strings.Contains(ae.ExceptionType, "AlreadyExists") {
		return true
	}
	msg := strings.ToLower(ae.Message)
	return strings.Contains(msg, "conflicting object") || strings.Contains(msg, "already exist") || strings.Contains(msg, "already in use")
}

// IsDehydrated reports the Exchange error that asks for
// Enable-OrganizationCustomization first.
func IsDehydrated(err error) bool {
	ae, ok := asAPIError(err)
	if !ok {
		return false
	}
	return strings.Contains(ae.ExceptionType, "InvalidOperationInDehydratedContextException") ||
		strings.Contains(ae.Code, "InvalidOperationInDehydratedContextException") ||
		strings.Contains(ae.Message, "Enable-OrganizationCustomization")
}

// IsThrottled reports a 429 (after the retries ran out).
func IsThrottled(err error) bool {
	ae, ok := asAPIError(err)
	return ok && ae.Status == http.StatusTooManyRequests
}

// IsForbidden reports a 403 (missing permission or role).
func IsForbidden(err error) bool {
	ae, ok := asAPIError(err)
	return ok && (ae.Status == http.StatusForbidden || ae.Code == "Authorization_RequestDenied")
}

// aadstsRE is compiled on first use, not at every start of the program.
var aadstsRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`AADSTS(\d{4,9})`) })

// AADSTSCode returns the first AADSTS code (e.g. 650051) in an error's
// message, or 0.
func AADSTSCode(err error) int {
	if err == nil {
		return 0
	}
	text := err.Error()
	if ae, ok := asAPIError(err); ok {
		text = ae.Message + " " + text
	}
	m := aadstsRE().FindStringSubmatch(text)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// transportErr re-labels an httpx error so that callers see the service.
func wrapErr(service string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := asAPIError(err); ok {
		return err
	}
	return fmt.Errorf("%s: %w", service, err)
}
