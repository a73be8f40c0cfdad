package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// shopError is an answer of the shop other than the one a command wanted:
// its status and the problem's detail.
type shopError struct {
	Status int
	Detail string
}

func (e *shopError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Detail, e.Status) }

// callShop sends method path to the shop at base (with the admin token
// when token is set) and returns the body of an answer of status want,
// within 30 s. Any other answer is a *shopError with the problem's detail
// on one line; a shop that does not answer is said to, with how to point
// the command at it.
func callShop(ctx context.Context, base, token, method, path string, want int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var body io.Reader
	if method != http.MethodGet {
		body = bytes.NewReader(nil) // Content-Length: 0
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(base, "/")+path, body)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the shop does not answer at %s (is 'bounded up' running? --url sets the address): %w", base, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		var p struct {
			Detail string `json:"detail"`
		}
		if json.Unmarshal(b, &p) != nil || p.Detail == "" {
			p.Detail = string(b)
		}
		return nil, &shopError{Status: resp.StatusCode, Detail: oneLine(p.Detail)}
	}
	return b, nil
}

// oneLine joins s's lines and runs of spaces into one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
