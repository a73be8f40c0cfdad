// The orders list (Orders' GET /orders/orders), newest first, with filters
// by status and customer email kept in the page's URL.

import { listOrders } from "../api.js";
import { badge, h, money, problemBanner, shortID, when } from "../dom.js";

const STATUSES = ["confirmed", "paid", "reserved", "shipped", "cancelled"];

export async function render(main, params, nav) {
  const status = nav.search.get("status") || "";
  const email = nav.search.get("customer_email") || "";

  const statusSelect = h("select", { name: "status", "aria-label": "Status" },
    h("option", { value: "" }, "Every status"),
    STATUSES.map((s) => h("option", { value: s, selected: s === status }, s[0].toUpperCase() + s.slice(1))));
  const emailInput = h("input", { type: "search", name: "customer_email", placeholder: "Customer email", value: email, "aria-label": "Customer email" });
  const filters = h("form", { class: "filters", role: "search" }, statusSelect, emailInput,
    h("button", { type: "submit", class: "btn ghost" }, "Filter"));
  const apply = (e) => {
    if (e) e.preventDefault();
    const q = new URLSearchParams();
    if (statusSelect.value) q.set("status", statusSelect.value);
    if (emailInput.value.trim()) q.set("customer_email", emailInput.value.trim());
    const s = q.toString();
    nav.navigate(s ? `/shop/orders?${s}` : "/shop/orders");
  };
  filters.addEventListener("submit", apply);
  statusSelect.addEventListener("change", apply);

  const head = h("div", { class: "page-head" },
    h("div", null, h("h1", null, "Orders"),
      h("p", { class: "lede" }, "Every order Orders keeps, newest first.")),
    filters);
  main.append(head, h("p", { class: "loading" }, "Loading orders…"));

  let list;
  try {
    list = await listOrders({ status, customer_email: email }, nav.signal);
  } catch (err) {
    if (nav.signal.aborted) return;
    main.replaceChildren(head, problemBanner(err, "The orders could not be read:"));
    return;
  }
  if (nav.signal.aborted) return;
  if (list.orders.length === 0) {
    main.replaceChildren(head, h("div", { class: "panel empty" },
      h("h2", null, status || email ? "No orders match" : "No orders yet"),
      h("p", null, status || email ? "Try another filter." : "Orders appear here a moment after a checkout."),
      h("a", { class: "btn", href: "/shop/" }, "Go shopping")));
    return;
  }
  const rows = list.orders.map((o) => {
    const href = `/shop/orders/${encodeURIComponent(o.id)}`;
    const row = h("tr", { class: "link" },
      h("td", null, h("a", { href, class: "mono", title: o.id }, `…${shortID(o.id)}`)),
      h("td", { class: "nowrap" }, when(o.created_at)),
      h("td", null, o.customer_email),
      h("td", null, badge(o.status), o.cancel_reason ? h("div", { class: "small muted" }, o.cancel_reason.replaceAll("_", " ")) : null),
      h("td", { class: "small muted" }, progressNote(o)),
      h("td", { class: "num" }, money(o.total_cents, o.currency)));
    row.addEventListener("click", (e) => {
      if (!e.target.closest("a")) nav.navigate(href);
    });
    return row;
  });
  main.replaceChildren(head, h("div", { class: "panel table-wrap" },
    h("table", { class: "table" },
      h("caption", { class: "small muted right" }, `${list.count} ${list.count === 1 ? "order" : "orders"}`),
      h("thead", null, h("tr", null,
        h("th", null, "Order"), h("th", null, "Placed"), h("th", null, "Customer"),
        h("th", null, "Status"), h("th", null, "Progress"), h("th", { class: "num" }, "Total"))),
      h("tbody", null, rows))));
}

// progressNote says what an order on its way still waits for.
function progressNote(o) {
  if (o.status === "shipped") return "delivered to the carrier";
  if (o.status === "cancelled") return "";
  if (o.status === "reserved") return "waiting for dispatch";
  const waiting = [];
  if (!o.paid) waiting.push("payment");
  if (!o.reserved) waiting.push("stock");
  return waiting.length ? `waiting for ${waiting.join(" and ")}` : "waiting for dispatch";
}
