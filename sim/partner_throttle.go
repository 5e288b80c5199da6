package sim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// A throttled window of the partner simulator (issue 21: a throttled minute
// through a batch): once a group (GroupPlatform, GroupGraph) has served
// After requests, it answers every request for RetryAfter with 429 and a
// Retry-After header counting down to the window's end — as the platform's
// per-account limit and Graph's per-app limit do. Graph's answers carry
// x-ms-throttle-scope "Application/…": the whole app is throttled, not one
// tenant. A throttled request is not served (no write is applied) and is
// logged with Status 429 and Fault "throttle".

type ptThrottle struct {
	group string
	after int
	retry time.Duration
	seen  int
	start time.Time // zero until the window opens
}

// ThrottleAfter opens a throttled window of retryAfter on group after it has
// served after requests (0: from its next request). Whole seconds: the
// Retry-After header counts seconds.
func (s *PartnerServer) ThrottleAfter(group string, after int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttles = append(s.throttles, &ptThrottle{group: group, after: after, retry: retryAfter})
	s.throttleArmed.Store(true)
}

// ThrottleWindows are the throttled windows opened so far: group → [start, end).
func (s *PartnerServer) ThrottleWindows() map[string][2]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][2]time.Time{}
	for _, t := range s.throttles {
		if !t.start.IsZero() {
			out[t.group] = [2]time.Time{t.start, t.start.Add(t.retry)}
		}
	}
	return out
}

// throttle reports whether a request of group arriving now is refused,
// and the seconds left in its window; now is read under the lock, so the
// order of the log's times is the order of the decisions.
func (s *PartnerServer) throttle(group string) (time.Time, int, bool) {
	if !s.throttleArmed.Load() {
		return s.now(), 0, false // no lock on the way of every request
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, t := range s.throttles {
		if t.group != group {
			continue
		}
		if t.start.IsZero() {
			if t.seen < t.after {
				t.seen++
				continue
			}
			t.start = now
		}
		if end := t.start.Add(t.retry); now.Before(end) {
			return now, max(int(math.Ceil(end.Sub(now).Seconds())), 1), true
		}
	}
	return now, 0, false
}

// writeThrottled answers a throttled request as the group's service does.
func (s *PartnerServer) writeThrottled(w http.ResponseWriter, r *http.Request, group string, secs int) {
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	var body any
	switch group {
	case GroupGraph:
		appID, tid := ptTokenClaims(r.Header.Get("Authorization"))
		w.Header().Set("x-ms-throttle-scope", "Application/ReadWrite/"+appID+"/"+tid)
		w.Header().Set("x-ms-throttle-information", "ResourceUnitLimitExceeded")
		body = map[string]any{"error": map[string]any{"code": "TooManyRequests", "message": "Too many requests. Please retry again later."}}
	default:
		body = map[string]any{"error": map[string]any{"code": "rate_limited", "message": fmt.Sprintf("rate limit exceeded; retry after %d s", secs)}}
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write(b)
}

// ptTokenClaims reads appid and tid of a bearer token, unverified (the
// throttle scope only names them).
func ptTokenClaims(authz string) (string, string) {
	tok, _ := strings.CutPrefix(authz, "Bearer ")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", ""
	}
	var c struct {
		AppID string `json:"appid"`
		AZP   string `json:"azp"`
		TID   string `json:"tid"`
	}
	_ = json.Unmarshal(raw, &c)
	if c.AppID == "" {
		c.AppID = c.AZP
	}
	return c.AppID, c.TID
}
