package cart

import (
	"bytes"

	"github.com/bounded-dev/bounded/platform/httpapi"
)

// The request decoders, exported to the black-box tests (package cart_test)
// so that the fuzz tests can drive them without a server. Each decodes body
// as the HTTP handler does (strict JSON) and validates it; it returns the
// request it decoded (for a round trip) and the error the client would get.

func DecodeCreateCartRequest(body []byte) (any, error) {
	var req createCartRequest
	if err := httpapi.DecodeJSON(bytes.NewReader(body), &req); err != nil {
		return nil, err
	}
	return req, req.validate()
}

func DecodeSetItemRequest(body []byte) (any, error) {
	var req setItemRequest
	if err := httpapi.DecodeJSON(bytes.NewReader(body), &req); err != nil {
		return nil, err
	}
	return req, req.validate()
}

func DecodeCheckoutRequest(body []byte) (any, error) {
	var req checkoutRequest
	if err := httpapi.DecodeJSON(bytes.NewReader(body), &req); err != nil {
		return nil, err
	}
	_, err := req.checkout()
	return req, err
}
