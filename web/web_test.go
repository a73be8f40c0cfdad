package web_test

import (
	"bytes"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bounded-dev/bounded/web"
)

// pages are the page paths the shell is served at; app.js routes the same.
var pages = []string{"/shop/", "/shop/cart", "/shop/checkout", "/shop/orders", "/shop/orders/01972f3b-0c4d-7e5f-8a6b-7c8d9e0f1a2b"}

var wantTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// get serves one request from h and returns the response and its body.
func get(t *testing.T, h http.Handler, method, target string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestPagesServeTheShell(t *testing.T) {
	h := web.Handler()
	var shell []byte
	for _, p := range pages {
		resp, body := get(t, h, "GET", p, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != wantTypes[".html"] {
			t.Fatalf("GET %s: %d %q", p, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if shell == nil {
			shell = body
		} else if !bytes.Equal(body, shell) {
			t.Errorf("GET %s: not the same shell as %s", p, pages[0])
		}
		for _, header := range []string{"Content-Security-Policy", "ETag", "X-Content-Type-Options"} {
			if resp.Header.Get(header) == "" {
				t.Errorf("GET %s: no %s header", p, header)
			}
		}
		if resp, body := get(t, h, "HEAD", p, nil); resp.StatusCode != http.StatusOK || len(body) != 0 {
			t.Errorf("HEAD %s: %d, %d bytes", p, resp.StatusCode, len(body))
		}
	}
	if !bytes.Contains(shell, []byte(`<script type="module" src="/shop/assets/js/app.js">`)) {
		t.Errorf("the shell does not load app.js as a module:\n%s", shell)
	}
}

// TestEveryEmbeddedAssetIsServed serves each file under static/assets (read
// from disk: the same tree the binary embeds) with the content type of its
// extension and its exact bytes.
func TestEveryEmbeddedAssetIsServed(t *testing.T) {
	h := web.Handler()
	n := 0
	err := fs.WalkDir(os.DirFS("static/assets"), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		want, _ := fs.ReadFile(os.DirFS("static/assets"), name)
		resp, body := get(t, h, "GET", "/shop/assets/"+name, nil)
		ct, ok := wantTypes[path.Ext(name)]
		switch {
		case !ok:
			t.Errorf("%s: an asset of a type the test does not know", name)
		case resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ct:
			t.Errorf("GET /shop/assets/%s: %d %q, want 200 %q", name, resp.StatusCode, resp.Header.Get("Content-Type"), ct)
		case !bytes.Equal(body, want):
			t.Errorf("GET /shop/assets/%s: not the file's bytes", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("found %d assets; is the test in the package directory?", n)
	}
}

var (
	htmlRefRE   = regexp.MustCompile(`\s(?:src|href)="([^"]*)"`)
	jsImportRE  = regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^;]*?\bfrom\s+"([^"]+)"`)
	cssURLRE    = regexp.MustCompile(`url\(\s*['"]?([^'")]+)`)
	jsPageRefRE = regexp.MustCompile(`["'` + "`" + `](/shop/[^"'` + "`" + `?$]*)`)
)

// TestReferencesResolve follows every src and href of the shell, every
// import of the scripts and every url() of the style sheet: each is served,
// with the right content type, from the embedded files. Nothing is loaded
// from elsewhere.
func TestReferencesResolve(t *testing.T) {
	h := web.Handler()
	_, shell := get(t, h, "GET", "/shop/", nil)
	queue := []string{}
	seen := map[string]bool{}
	add := func(from, ref string) {
		u := ref
		if !strings.HasPrefix(ref, "/") {
			if strings.Contains(ref, ":") || strings.HasPrefix(ref, "//") {
				t.Errorf("%s refers to %q: the pages load nothing from elsewhere", from, ref)
				return
			}
			if strings.HasPrefix(ref, "#") {
				return
			}
			u = path.Join(path.Dir(from), ref)
		}
		if !strings.HasPrefix(u, "/shop/") {
			t.Errorf("%s refers to %q, outside /shop/", from, ref)
			return
		}
		if !seen[u] {
			seen[u] = true
			queue = append(queue, u)
		}
	}
	for _, m := range htmlRefRE.FindAllSubmatch(shell, -1) {
		add("/shop/index.html", string(m[1]))
	}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		resp, body := get(t, h, "GET", u, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", u, resp.StatusCode)
			continue
		}
		if !strings.HasPrefix(u, "/shop/assets/") {
			continue // a page: the shell again
		}
		if want := wantTypes[path.Ext(u)]; resp.Header.Get("Content-Type") != want {
			t.Errorf("%s: Content-Type %q, want %q", u, resp.Header.Get("Content-Type"), want)
		}
		switch path.Ext(u) {
		case ".js":
			for _, m := range jsImportRE.FindAllSubmatch(body, -1) {
				add(u, string(m[1]))
			}
		case ".css":
			for _, m := range cssURLRE.FindAllSubmatch(body, -1) {
				add(u, string(m[1]))
			}
		}
	}
	for _, want := range []string{"/shop/assets/app.css", "/shop/assets/js/app.js", "/shop/assets/js/api.js", "/shop/assets/js/views/order.js"} {
		if !seen[want] {
			t.Errorf("%s is not reachable from the shell", want)
		}
	}
}

// TestScriptLinksArePages: every /shop/ path in the scripts (the links
// they draw and the pages they navigate to) is a page the server answers.
func TestScriptLinksArePages(t *testing.T) {
	h := web.Handler()
	n := 0
	for name, src := range scripts(t) {
		for _, m := range jsPageRefRE.FindAllStringSubmatch(src, -1) {
			p := m[1]
			if strings.HasPrefix(p, "/shop/assets/") {
				continue // app.js: links to assets are left to the browser
			}
			n++
			if strings.HasSuffix(p, "/orders/") {
				p += "01972f3b-0c4d-7e5f-8a6b-7c8d9e0f1a2b"
			}
			if resp, _ := get(t, h, "GET", p, nil); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != wantTypes[".html"] {
				t.Errorf("%s links to %s: %d %s", name, m[1], resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		}
	}
	if n < 5 {
		t.Fatalf("found %d links in the scripts; has the pattern gone stale?", n)
	}
}

func TestUnknownPathsAre404(t *testing.T) {
	h := web.Handler()
	for _, p := range []string{
		"/shop/assets/nope.js", "/shop/assets/", "/shop/assets/js/", "/shop/assets/js/views",
		"/shop/index.html", "/shop/static/index.html", "/shop/nonsense", "/shop/orders/1/page", "/shop/cart/",
	} {
		resp, body := get(t, h, "GET", p, nil)
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s: %d %q %s, want a 404 problem", p, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	resp, _ := get(t, h, "POST", "/shop/cart", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /shop/cart: %d, Allow %q; want 405", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestConditionalGetAnswers304(t *testing.T) {
	h := web.Handler()
	for _, p := range []string{"/shop/", "/shop/assets/app.css"} {
		resp, _ := get(t, h, "GET", p, nil)
		etag := resp.Header.Get("ETag")
		if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("GET %s: ETag %q, Cache-Control %q", p, etag, resp.Header.Get("Cache-Control"))
		}
		resp, body := get(t, h, "GET", p, http.Header{"If-None-Match": {etag}})
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("GET %s If-None-Match: %d, %d bytes; want 304", p, resp.StatusCode, len(body))
		}
	}
}

// TestShellIsSelfContained: no inline script or style (the
// Content-Security-Policy forbids them) and every page's type is known.
func TestShellIsSelfContained(t *testing.T) {
	h := web.Handler()
	_, shell := get(t, h, "GET", "/shop/", nil)
	for _, bad := range []string{"<style", " style=", " onclick=", " onload=", "<script>"} {
		if bytes.Contains(shell, []byte(bad)) {
			t.Errorf("the shell has %q, which its Content-Security-Policy refuses", bad)
		}
	}
	for ext, ct := range wantTypes {
		if got, _, err := mime.ParseMediaType(ct); err != nil || got == "" {
			t.Errorf("%s: bad media type %q", ext, ct)
		}
	}
}

// scripts reads every script under static/assets, by path.
func scripts(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(os.DirFS("static/assets"), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(name) != ".js" {
			return err
		}
		b, err := fs.ReadFile(os.DirFS("static/assets"), name)
		out[name] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no scripts under static/assets")
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
