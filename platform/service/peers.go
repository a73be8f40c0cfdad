package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/bounded-dev/bounded/platform/httpapi"
)

// Get fetches path from service's API and decodes the JSON answer into v.
// A 404 is an error of kind httpapi.ErrNotFound; a peer that cannot be
// reached or fails is httpapi.ErrUnavailable; both name the peer.
func (p *Peers) Get(ctx context.Context, service, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/"+service+path, nil)
	if err != nil {
		return fmt.Errorf("peer %s: %w", service, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return httpapi.Errorf(httpapi.ErrUnavailable, "%s is unavailable: %v", service, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return httpapi.Errorf(httpapi.ErrNotFound, "%s: %s not found", service, path)
	case resp.StatusCode != http.StatusOK:
		var prob httpapi.Problem
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		_ = json.Unmarshal(body, &prob)
		return httpapi.Errorf(httpapi.ErrUnavailable, "%s answered %d to GET %s: %s", service, resp.StatusCode, path, prob.Detail)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return httpapi.Errorf(httpapi.ErrUnavailable, "%s: GET %s: bad JSON: %v", service, path, err)
	}
	return nil
}

// HandlerTransport is an http.RoundTripper that serves requests with an
// in-process handler: in embedded mode, services reach each other's APIs
// without a socket, through the same routes a remote client uses.
type HandlerTransport struct{ Handler http.Handler }

// RoundTrip implements http.RoundTripper.
func (t HandlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := newResponseRecorder()
	t.Handler.ServeHTTP(rec, req.Clone(req.Context()))
	return rec.result(req), nil
}

// Put sends body as JSON with PUT to path of service's API, with token as
// the admin bearer token (none when empty). Any answer but 200 or 201 is an
// error that carries the problem's detail.
func (p *Peers) Put(ctx context.Context, token, service, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("peer %s: %w", service, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, p.base+"/"+service+path, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("peer %s: %w", service, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return httpapi.Errorf(httpapi.ErrUnavailable, "%s is unavailable: %v", service, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated {
		return nil
	}
	var prob httpapi.Problem
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_ = json.Unmarshal(raw, &prob)
	return fmt.Errorf("%s answered %d to PUT %s: %s", service, resp.StatusCode, path, prob.Detail)
}
