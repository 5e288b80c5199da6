package m365

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"itdr-onboard/internal/httpx"
)

// MaxBatch is Graph's limit of requests in one JSON batch.
const MaxBatch = 20

// BatchRequest is one request inside a Graph JSON batch. URL is relative to
// /v1.0 ("/users/{id}?$select=id").
type BatchRequest struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// BatchResponse is the answer to one BatchRequest.
type BatchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// Err returns the sub-response's error as an *APIError (nil for 2xx).
func (r BatchResponse) Err(call string) error {
	if r.Status >= 200 && r.Status < 300 {
		return nil
	}
	h := http.Header{}
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	return ParseGraphError(call, r.Status, h, r.Body)
}

// DecodeBatchResponse decodes a $batch response body.
func DecodeBatchResponse(body []byte) ([]BatchResponse, error) {
	var out struct {
		Responses *[]BatchResponse `json:"responses"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	if out.Responses == nil {
		return nil, fmt.Errorf(`batch response has no "responses"`)
	}
	return *out.Responses, nil
}

// maxBatchRounds bounds how often throttled sub-requests are re-sent.
const maxBatchRounds = 5

// Batch sends requests through POST /$batch, at most MaxBatch per call, and
// returns one response per request in request order. Requests without an ID
// get their index as ID; IDs must be unique. A batch made only of GETs is
// retried as a whole on transient failures, and GET sub-requests answered
// 429/503/504 are re-sent (honouring their Retry-After) a few times; the
// final sub-response is returned either way, so callers check each Status.
func (g *Graph) Batch(ctx context.Context, reqs []BatchRequest) ([]BatchResponse, error) {
	reqs = append([]BatchRequest(nil), reqs...)
	index := make(map[string]int, len(reqs))
	for i := range reqs {
		if reqs[i].ID == "" {
			reqs[i].ID = strconv.Itoa(i + 1)
		}
		if reqs[i].Method == "" {
			reqs[i].Method = http.MethodGet
		}
		if len(reqs[i].Body) > 0 && reqs[i].Headers["Content-Type"] == "" {
			h := map[string]string{"Content-Type": "application/json"}
			for k, v := range reqs[i].Headers {
				h[k] = v
			}
			reqs[i].Headers = h
		}
		if _, dup := index[reqs[i].ID]; dup {
			return nil, fmt.Errorf("graph: batch: duplicate request id %q", reqs[i].ID)
		}
		index[reqs[i].ID] = i
	}
	out := make([]BatchResponse, len(reqs))
	for start := 0; start < len(reqs); start += MaxBatch {
		end := min(start+MaxBatch, len(reqs))
		pending := reqs[start:end]
		for round := 0; len(pending) > 0; round++ {
			rs, err := g.batchOnce(ctx, pending)
			if err != nil {
				return nil, err
			}
			var again []BatchRequest
			var wait time.Duration
			got := map[string]bool{}
			for _, r := range rs {
				got[r.ID] = true
				i, ok := index[r.ID]
				if !ok {
					return nil, fmt.Errorf("graph: POST /$batch: response for unknown request id %q", r.ID)
				}
				out[i] = r
				if round+1 < maxBatchRounds && strings.EqualFold(reqs[i].Method, http.MethodGet) &&
					(r.Status == http.StatusTooManyRequests || r.Status == http.StatusServiceUnavailable || r.Status == http.StatusGatewayTimeout) {
					again = append(again, reqs[i])
					h := http.Header{}
					for k, v := range r.Headers {
						h.Set(k, v)
					}
					wait = max(wait, httpx.RetryAfter(h, time.Now()))
				}
			}
			for _, r := range pending {
				if !got[r.ID] {
					return nil, fmt.Errorf("graph: POST /$batch: no response for request id %q", r.ID)
				}
			}
			if len(again) > 0 {
				if wait <= 0 {
					wait = g.pol.Backoff(round + 1)
				}
				sleep := g.pol.Sleep
				if sleep == nil {
					sleep = httpx.SleepContext
				}
				if err := sleep(ctx, wait); err != nil {
					return nil, fmt.Errorf("graph: POST /$batch: %w", err)
				}
			}
			pending = again
		}
	}
	return out, nil
}

func (g *Graph) batchOnce(ctx context.Context, reqs []BatchRequest) ([]BatchResponse, error) {
	readOnly := true
	for _, r := range reqs {
		if !strings.EqualFold(r.Method, http.MethodGet) {
			readOnly = false
		}
	}
	resp, err := g.send(ctx, graphReq{method: http.MethodPost, path: "/$batch",
		body: map[string]any{"requests": reqs}, write: !readOnly})
	if err != nil {
		return nil, err
	}
	rs, err := DecodeBatchResponse(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("graph: POST /$batch: decoding response (request id %s): %w", resp.RequestID, err)
	}
	return rs, nil
}
