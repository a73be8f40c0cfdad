// DOM building and formatting. Everything the APIs answer reaches the page
// as text nodes (h never parses HTML), so no field can inject markup.

// h builds an element: h("a", {href: "/shop/", class: "btn"}, "Shop").
// Attributes starting with "on" are event listeners; true sets a boolean
// attribute, false/null/undefined leave it out. Children may be strings,
// numbers, nodes, arrays of them, or null/false (skipped).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

const moneyFormats = new Map();

// money formats cents in an ISO 4217 currency: money(8900, "EUR") → "€89.00".
export function money(cents, currency) {
  if (typeof cents !== "number") return "—";
  if (!currency) return (cents / 100).toFixed(2);
  let f = moneyFormats.get(currency);
  if (!f) {
    try {
      f = new Intl.NumberFormat(undefined, { style: "currency", currency });
    } catch {
      f = { format: (n) => `${n.toFixed(2)} ${currency}` };
    }
    moneyFormats.set(currency, f);
  }
  return f.format(cents / 100);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });

// when formats a timestamp for a list: "22 Nov 2026, 06:09".
export function when(iso) {
  const d = iso ? new Date(iso) : null;
  return d && !isNaN(d) ? dateTime.format(d) : "—";
}

// precise formats a timestamp to the millisecond, for the order's
// timeline, whose steps are often milliseconds apart: "06:09:13.095".
export function precise(iso) {
  const d = iso ? new Date(iso) : null;
  if (!d || isNaN(d)) return "—";
  return `${clock.format(d)}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

// elapsed is the time from a to b, briefly: "+4 ms", "+1.2 s", "+3 min".
export function elapsed(a, b) {
  const ms = new Date(b) - new Date(a);
  if (!isFinite(ms)) return "";
  if (ms < 1000) return `+${ms} ms`;
  if (ms < 60000) return `+${(ms / 1000).toFixed(1)} s`;
  return `+${Math.round(ms / 60000)} min`;
}

// humanize turns an API code into words: "payment_declined" → "payment declined".
export function humanize(code) {
  return String(code || "").replaceAll("_", " ");
}

// badge is a status pill; its colour comes from the status (class s-<status>).
export function badge(status, text) {
  return h("span", { class: `badge s-${String(status).replace(/[^a-z_]/g, "")}` }, text ?? humanize(status));
}

// shortID shows the end of a UUIDv7 (its random part) for lists.
export function shortID(id) {
  return String(id || "").slice(-12);
}

// initials of a product name, for its tile.
export function initials(name) {
  const words = String(name || "").split(/[\s,]+/).filter((w) => /^[\p{L}\p{N}]/u.test(w));
  return words.slice(0, 2).map((w) => w[0].toUpperCase()).join("") || "?";
}

// Hues the tiles are drawn in: teal, blue, amber, violet, green, rose, cyan.
const HUES = [168, 212, 32, 262, 140, 345, 190];

// hue picks a stable colour for a string (a SKU's family).
export function hue(text) {
  let n = 0;
  for (const ch of String(text || "")) n = (n * 31 + ch.codePointAt(0)) % 1000003;
  return HUES[n % HUES.length];
}

// tile is a product's coloured square with its initials, coloured by the
// first part of its SKU (the same on every page, and alike for a family of
// products: KIT-..., COF-...).
export function tile(name, sku) {
  const el = h("div", { class: "tile", "aria-hidden": "true" }, initials(name));
  el.style.setProperty("--hue", hue(String(sku || "").split("-")[0]));
  return el;
}

// problemBanner shows an API error: the problem's detail, with its status.
export function problemBanner(err, lead) {
  return h("div", { class: "banner banner-error", role: "alert" },
    h("div", null,
      lead ? h("strong", null, lead, " ") : null,
      err && err.detail ? err.detail : String(err && err.message ? err.message : err),
      err && err.status ? h("span", { class: "status-code" }, ` (${err.status} ${err.title || ""})`) : null));
}

// toast shows a short message at the bottom right for a few seconds; link
// is an optional {href, text}.
export function toast(message, { error = false, link = null } = {}) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const el = h("div", { class: error ? "toast error" : "toast" }, h("span", null, message),
    link ? h("a", { href: link.href }, link.text) : null);
  box.append(el);
  while (box.children.length > 2) box.firstElementChild.remove();
  setTimeout(() => el.remove(), error ? 6000 : 3000);
}
