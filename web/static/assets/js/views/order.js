// The order page: Orders' GET /orders/orders/{id}/page, the order composed
// with Payments' payments and Fulfillment's shipments (API composition).
// It refreshes itself every second while the order is on its way, and says
// plainly when a part could not be had (the page's unavailable list).

import { getOrderPage } from "../api.js";
import { badge, elapsed, h, humanize, money, precise, problemBanner, when } from "../dom.js";

const REFRESH_MS = 1000;
// After a checkout, Orders creates the order from the cart.checked_out
// event: until then the page answers 404, which is waited out this long.
const CREATION_WAIT_MS = 15000;
// Once the order is shipped or cancelled, the other parts may still move a
// little (a refund follows a cancellation); the page keeps refreshing
// until they settle, but no longer than this.
const SETTLE_MS = 15000;

const STEPS = [
  { status: "confirmed", label: "Confirmed" },
  { status: "paid", label: "Paid" },
  { status: "reserved", label: "Reserved" },
  { status: "shipped", label: "Shipped" },
];

const PEER_NAMES = { payments: "Payments", fulfillment: "Fulfillment" };

export async function render(main, params, nav) {
  const id = params.id;
  const placed = nav.search.get("placed") === "1";
  const started = Date.now();
  let terminalSince = null;
  let lastJSON = "";
  let timer = null;

  const live = h("span", { class: "live on", role: "status" }, h("span", { class: "dot" }), h("span", { class: "text" }, "Loading…"));
  const setLive = (state, text) => {
    live.className = `live ${state}`;
    live.lastChild.textContent = text;
  };
  const refresh = h("button", { type: "button", class: "btn ghost small", hidden: true, onclick: () => { refresh.hidden = true; terminalSince = null; tick(); } }, "Refresh");
  const head = h("div", { class: "page-head" },
    h("div", null,
      h("div", { class: "crumbs" }, h("a", { href: "/shop/orders" }, "Orders"), " / Order"),
      h("h1", null, "Order"),
      h("div", { class: "order-id" }, id)),
    h("div", { class: "filters" }, live, refresh));
  const notice = h("div");
  const thanks = placed
    ? [h("div", { class: "banner banner-ok" }, h("strong", null, "Thank you!"), " Your order was placed; this page follows it as it goes.")]
    : [];
  const body = h("div", null, h("p", { class: "loading" }, "Loading the order…"));
  main.append(head, notice, body);
  nav.signal.addEventListener("abort", () => clearTimeout(timer));

  const schedule = () => {
    if (!nav.signal.aborted) timer = setTimeout(tick, REFRESH_MS);
  };

  async function tick() {
    let page;
    try {
      page = await getOrderPage(id, nav.signal);
    } catch (err) {
      if (nav.signal.aborted || err.name === "AbortError") return;
      if (err.status === 404 && placed && Date.now() - started < CREATION_WAIT_MS && !lastJSON) {
        setLive("on", "Waiting for Orders to create the order…");
        notice.replaceChildren(h("div", { class: "banner banner-info" },
          "Your cart is checked out. The order is being created from the checkout event; this takes a moment."));
        schedule();
        return;
      }
      if (err.status === 0 || err.status >= 500) {
        // The shop is restarting or unreachable: keep trying, say so.
        setLive("retrying", "Cannot reach the shop; retrying every second");
        notice.replaceChildren(problemBanner(err, "The order page could not be read:"));
        schedule();
        return;
      }
      setLive("", "Not refreshing");
      notice.replaceChildren(problemBanner(err, "The order page could not be read:"));
      if (!lastJSON) body.replaceChildren();
      refresh.hidden = false;
      return;
    }
    notice.replaceChildren(...thanks);
    const json = JSON.stringify(page);
    if (json !== lastJSON) {
      lastJSON = json;
      nav.setTitle(`Order …${id.slice(-6)} (${page.order.status})`);
      body.replaceChildren(draw(page));
    }
    const terminal = page.order.status === "shipped" || page.order.status === "cancelled";
    if (terminal && terminalSince === null) terminalSince = Date.now();
    const stamp = `updated ${precise(new Date().toISOString())}`;
    if (terminal && (settled(page) || Date.now() - terminalSince > SETTLE_MS)) {
      setLive("", `Final: ${page.order.status} · ${stamp}`);
      refresh.hidden = false;
      return;
    }
    setLive(page.unavailable.length ? "retrying" : "on", `Live: refreshing every second · ${stamp}`);
    schedule();
  }

  await tick();
}

// settled: nothing on the page is still expected to change. A pending
// payment or refund is retried by Payments; a captured payment of a
// cancelled order is about to be refunded; a created shipment is about to
// be dispatched or cancelled; an unavailable part is worth asking again.
function settled(page) {
  if (page.unavailable.length > 0) return false;
  const cancelled = page.order.status === "cancelled";
  for (const p of page.payments || []) {
    if (p.status === "pending" || (cancelled && p.status === "captured")) return false;
    if ((p.refunds || []).some((r) => r.status === "pending")) return false;
  }
  return !(page.shipments || []).some((s) => s.status === "created");
}

function draw(page) {
  const o = page.order;
  const banners = [];
  for (const peer of page.unavailable) {
    banners.push(h("div", { class: "banner banner-warn", role: "alert" },
      h("div", null, h("strong", null, `${PEER_NAMES[peer] || peer} is unavailable.`),
        ` Orders could not ask it for its part of this page, so that part is missing below; the order itself is current, and the page keeps asking.`)));
  }
  return h("div", null, banners, h("div", { class: "layout-2" },
    h("div", { class: "stack" },
      progress(o),
      paymentsPanel(page.payments, o),
      shipmentsPanel(page.shipments, o)),
    h("aside", { class: "stack" }, summaryPanel(o))));
}

// progress is the status timeline: the four steps of an order's way, then
// its history as Orders recorded it (each entry with the event behind it).
function progress(o) {
  const reached = new Map();
  for (const e of o.history) if (!reached.has(e.status)) reached.set(e.status, e.at);
  const cancelled = o.status === "cancelled";
  const lastDone = STEPS.reduce((n, s, i) => (reached.has(s.status) ? i : n), -1);
  const steps = STEPS.map((s, i) => {
    let cls = "step";
    let mark = "";
    let when = reached.get(s.status);
    let label = s.label;
    if (reached.has(s.status)) {
      cls += " done";
      mark = "✓";
    } else if (cancelled && i === lastDone + 1) {
      cls += " failed";
      mark = "✕";
      label = "Cancelled";
      when = reached.get("cancelled");
    } else if (!cancelled && i === lastDone + 1) {
      cls += " current";
    }
    return h("li", { class: cls }, h("span", { class: "mark", "aria-hidden": "true" }, mark),
      h("span", { class: "label" }, label), when ? h("span", { class: "when" }, precise(when)) : null);
  });
  const first = o.history.length ? o.history[0].at : o.created_at;
  return h("section", { class: "panel", "aria-label": "Status" },
    h("div", { class: "panel-head" }, h("h2", null, "Status"), badge(o.status)),
    h("ol", { class: "steps" }, steps),
    cancelled ? h("div", { class: "banner banner-error cancel-box" },
      h("div", null, h("strong", null, `Cancelled: ${humanize(o.cancel_reason || "no reason given")}`),
        o.cancel_detail ? h("div", { class: "small" }, sentence(o.cancel_detail)) : null)) : null,
    h("h3", { class: "sub-title" }, "History"),
    h("ol", { class: "history" }, o.history.map((e) => h("li", { class: `s-${e.status}` },
      badge(e.status), h("span", { class: "reason" }, e.reason),
      h("span", { class: "at", title: e.at }, `${precise(e.at)} ${e === o.history[0] ? "" : elapsed(first, e.at)}`)))));
}

function paymentsPanel(payments, o) {
  const head = h("div", { class: "panel-head" }, h("h2", null, "Payment"), h("span", { class: "source" }, "from Payments"));
  if (payments === null) return unavailablePanel(head, "Payments");
  if (payments.length === 0) {
    return h("section", { class: "panel" }, head, h("p", { class: "muted" },
      o.status === "cancelled" ? "No payment was taken for this order." : "Payments has not taken this order up yet."));
  }
  return h("section", { class: "panel" }, head, payments.map((p) => h("div", { class: "payment" },
    h("div", { class: "payment-head" }, badge(p.status), p.reason ? h("span", { class: "small muted" }, humanize(p.reason)) : null,
      h("span", { class: "amount" }, money(p.amount_cents, p.currency || o.currency))),
    h("h3", { class: "sub-title" }, `Attempts (${p.attempts.length})`),
    p.attempts.length === 0 ? h("p", { class: "small muted" }, "None yet.") :
      h("ol", { class: "attempts" }, p.attempts.map((a) => h("li", null,
        h("span", { class: "n" }, `#${a.n}`),
        a.outcome ? badge(a.outcome) : h("span", { class: "badge" }, "unknown"),
        h("span", { class: "why" }, a.reason || ""),
        h("span", { class: "at" }, a.at ? precise(a.at) : "")))),
    p.refunds.length ? [
      h("h3", { class: "sub-title" }, `Refunds (${p.refunds.length})`),
      h("ol", { class: "attempts" }, p.refunds.map((r) => h("li", null,
        h("span", { class: "n" }, "↩"),
        r.status ? badge(r.status) : h("span", { class: "badge" }, "refund"),
        h("span", { class: "why" }, `${money(r.amount_cents, p.currency || o.currency)}${r.reason ? ` · ${humanize(r.reason)}` : ""}`),
        h("span", { class: "at" }, r.refunded_at ? precise(r.refunded_at) : "")))),
    ] : null)));
}

function shipmentsPanel(shipments, o) {
  const head = h("div", { class: "panel-head" }, h("h2", null, "Shipment"), h("span", { class: "source" }, "from Fulfillment"));
  if (shipments === null) return unavailablePanel(head, "Fulfillment");
  if (shipments.length === 0) {
    return h("section", { class: "panel" }, head, h("p", { class: "muted" },
      o.status === "cancelled" ? "No shipment was made for this order." : "Fulfillment has not taken this order up yet."));
  }
  return h("section", { class: "panel" }, head, shipments.map((s) => h("div", { class: "shipment" },
    h("div", { class: "shipment-head" }, badge(s.status)),
    h("dl", { class: "kv" },
      s.package ? [h("dt", null, "Package"), h("dd", null, humanize(s.package))] : null,
      s.dispatched_at ? [h("dt", null, "Dispatched"), h("dd", null, `${when(s.dispatched_at)} (${precise(s.dispatched_at)})`)] : null,
      s.cancelled_at ? [h("dt", null, "Cancelled"), h("dd", null, `${when(s.cancelled_at)} (${precise(s.cancelled_at)})`)] : null,
      s.id ? [h("dt", null, "Shipment"), h("dd", { class: "mono" }, s.id)] : null))));
}

function unavailablePanel(head, service) {
  return h("section", { class: "panel unavailable" }, head,
    h("p", { class: "unavailable-note" }, `⚠ ${service} is unavailable`),
    h("p", { class: "small" }, `${service} did not answer Orders in time, so this part of the page is missing. It is asked again on every refresh.`));
}

function summaryPanel(o) {
  const a = o.shipping_address;
  return [
    h("section", { class: "panel", "aria-label": "Items" },
      h("div", { class: "panel-head" }, h("h2", null, "Items"), h("span", { class: "source" }, "from Orders")),
      h("div", { class: "items-list" }, o.items.map((it) => h("div", { class: "item" },
        h("span", null, h("span", { class: "q" }, `${it.quantity} × `), it.name),
        h("span", { class: "nowrap" }, money(it.line_total_cents, o.currency))))),
      h("div", { class: "total-row" }, h("span", null, "Total"), h("span", null, money(o.total_cents, o.currency)))),
    h("section", { class: "panel" },
      h("h2", null, "Delivery"),
      h("dl", { class: "facts" },
        h("div", null, h("dt", null, "Ship to"), h("dd", null, h("address", { class: "address" },
          a.name, h("br"), a.line1, h("br"), a.line2 ? [a.line2, h("br")] : null,
          a.city, h("br"), a.postal_code, h("br"), countryName(a.country)))),
        h("div", null, h("dt", null, "Email"), h("dd", null, o.customer_email)),
        h("div", null, h("dt", null, "Placed"), h("dd", null, when(o.created_at))),
        // Orders' paid and reserved say what happened; on a cancelled
        // order the payment panel and the status tell the rest.
        o.status === "cancelled" ? null : h("div", null, h("dt", null, "Payment and stock"),
          h("dd", null, o.paid ? "paid" : "not paid yet", " · ", o.reserved ? "stock reserved" : "stock not reserved yet")))),
  ];
}

// sentence starts a message with a capital letter.
function sentence(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

let regionNames = null;

// countryName names an ISO 3166-1 alpha-2 code in the browser's language
// ("GB" → "United Kingdom"), or leaves the code.
function countryName(code) {
  try {
    regionNames ??= new Intl.DisplayNames(undefined, { type: "region" });
    return regionNames.of(code) || code;
  } catch {
    return code;
  }
}
