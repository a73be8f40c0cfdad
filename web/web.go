// Package web is the shop's browser front end: a storefront, the cart and
// its checkout, the orders list and the order page, as static files (one
// HTML shell, one style sheet, vanilla JavaScript modules) embedded in the
// binary. It has no build step and loads nothing from elsewhere: the pages
// work offline, against the services' own JSON APIs on the same origin.
//
// Routing is client-side: every page path (see [Handler]) answers the same
// HTML shell, whose script reads location.pathname and renders the page.
// The server knows the page paths too, so that anything else under /shop/
// is a 404 rather than a blank shell.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/bounded-dev/bounded/platform/httpapi"
)

// Prefix is where [Handler] serves: mount the handler at this path.
const Prefix = "/shop/"

//go:embed static
var static embed.FS

// contentTypes are the media types of the embedded files, by extension.
// Written out rather than asked of package mime, whose answers depend on
// the machine's MIME database (some map .js to application/javascript).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// securityPolicy lets the pages load and call only their own origin: no
// inline script or style, no third-party anything, no framing.
const securityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// file is an embedded file ready to serve.
type file struct {
	name        string
	body        []byte
	contentType string
	etag        string
}

// Handler returns the front end, to be mounted at [Prefix]. It serves
//
//	GET /shop/                 the storefront: products by category
//	GET /shop/cart             the cart
//	GET /shop/checkout         the checkout form
//	GET /shop/orders           the orders list
//	GET /shop/orders/{id}      an order page
//	GET /shop/assets/...       the style sheet, scripts and icon
//
// Every page answers the same HTML shell. Anything else under /shop/ is a
// 404 problem (application/problem+json), another method than GET or HEAD
// a 405. Responses carry an ETag and Cache-Control: no-cache (the browser
// revalidates, a new binary is picked up at once) and a Content-Security-
// Policy that allows this origin only. The handler is safe for concurrent
// use.
func Handler() http.Handler {
	shell, assets := mustLoad()
	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, r *http.Request) { serve(w, r, shell) }
	for _, p := range []string{"GET /shop/{$}", "GET /shop/cart", "GET /shop/checkout", "GET /shop/orders", "GET /shop/orders/{id}"} {
		mux.HandleFunc(p, page)
	}
	mux.HandleFunc("GET /shop/assets/", func(w http.ResponseWriter, r *http.Request) {
		f, ok := assets[strings.TrimPrefix(r.URL.Path, "/shop/assets/")]
		if !ok {
			notFound(w, r)
			return
		}
		serve(w, r, f)
	})
	mux.HandleFunc("/shop/", notFound)
	return mux
}

// mustLoad reads the embedded files: the shell and the assets by their path
// under static/assets. The files are compiled in, so a failure here is a
// broken build, not a run-time condition: it panics.
func mustLoad() (shell file, assets map[string]file) {
	load := func(name string) file {
		b, err := static.ReadFile(name)
		if err != nil {
			panic(fmt.Sprintf("web: embedded %s: %v", name, err))
		}
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			panic(fmt.Sprintf("web: embedded %s: no content type for its extension", name))
		}
		sum := sha256.Sum256(b)
		return file{name: name, body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	}
	shell = load("static/index.html")
	assets = map[string]file{}
	err := fs.WalkDir(static, "static/assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		assets[strings.TrimPrefix(name, "static/assets/")] = load(name)
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("web: embedded assets: %v", err))
	}
	return shell, assets
}

// serve writes f, answering a conditional request with 304.
func serve(w http.ResponseWriter, r *http.Request, f file) {
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", securityPolicy)
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
}

// notFound answers what is not a page or an asset, as the rest of the
// binary does: a problem.
func notFound(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpapi.WriteProblem(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: the shop's pages are read with GET", r.Method, r.URL.Path))
		return
	}
	httpapi.WriteProblem(w, r, http.StatusNotFound, fmt.Sprintf("no page or asset %s; the shop starts at %s", r.URL.Path, Prefix))
}
