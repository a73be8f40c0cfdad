// The shop's entry point: a client-side router over the page paths the
// server answers with this same shell (web.Handler lists them), and the
// header's navigation and cart count.
//
// A view is render(main, params, nav): it draws into main and may keep
// working (the order page refreshes itself) until nav.signal aborts, which
// happens when the shopper navigates elsewhere.

import { h } from "./dom.js";
import { itemCount, loadCart } from "./cart-store.js";
import * as shop from "./views/shop.js";
import * as cart from "./views/cart.js";
import * as checkout from "./views/checkout.js";
import * as orders from "./views/orders.js";
import * as order from "./views/order.js";

const routes = [
  { pattern: /^\/shop\/$/, view: shop, nav: "shop", title: "Shop" },
  { pattern: /^\/shop\/cart$/, view: cart, nav: "cart", title: "Cart" },
  { pattern: /^\/shop\/checkout$/, view: checkout, nav: "cart", title: "Checkout" },
  { pattern: /^\/shop\/orders$/, view: orders, nav: "orders", title: "Orders" },
  { pattern: /^\/shop\/orders\/(?<id>[^/]+)$/, view: order, nav: "orders", title: "Order" },
];

const main = document.getElementById("main");
let running = null;

// navigate shows path (a /shop/ URL, with its query) without reloading.
function navigate(path) {
  history.pushState(null, "", path);
  route();
}

// decodePart decodes a path segment, leaving a malformed one as it is (the
// API then says it names nothing).
function decodePart(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function route() {
  if (running) running.abort();
  running = new AbortController();
  const path = location.pathname;
  let match = null;
  let params = {};
  for (const r of routes) {
    const m = r.pattern.exec(path);
    if (m) {
      match = r;
      params = Object.fromEntries(Object.entries(m.groups || {}).map(([k, v]) => [k, decodePart(v)]));
      break;
    }
  }
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", !!match && a.dataset.nav === match.nav);
    if (match && a.dataset.nav === match.nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  main.replaceChildren();
  if (!match) {
    document.title = "Not found · bounded shop";
    main.append(h("div", { class: "empty" }, h("h2", null, "No such page"),
      h("p", null, "The shop has no page at ", h("span", { class: "mono" }, path), "."),
      h("a", { class: "btn", href: "/shop/" }, "Back to the shop")));
    return;
  }
  document.title = `${match.title} · bounded shop`;
  const nav = {
    signal: running.signal,
    search: new URLSearchParams(location.search),
    navigate,
    setTitle: (t) => { document.title = `${t} · bounded shop`; },
  };
  Promise.resolve(match.view.render(main, params, nav)).catch((err) => {
    if (err && err.name === "AbortError") return;
    console.error(err);
    main.replaceChildren(h("div", { class: "banner banner-error", role: "alert" },
      "Something went wrong drawing this page: ", String(err && err.message ? err.message : err)));
  });
  if (window.scrollY > 0) window.scrollTo(0, 0);
}

// Links to /shop/ pages navigate in place; the rest behave as links do.
document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith("/shop/") || url.pathname.startsWith("/shop/assets/")) return;
  if (url.hash && url.pathname === location.pathname && url.search === location.search) return; // an anchor on this page
  e.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener("popstate", route);

// The header's cart count follows every change of the cart.
const count = document.getElementById("cart-count");
window.addEventListener("cart:change", (e) => {
  const n = itemCount(e.detail);
  count.textContent = String(n);
  count.hidden = n === 0;
});

route();
loadCart().catch(() => {
  // The count stays hidden; the cart page says what is wrong.
});
