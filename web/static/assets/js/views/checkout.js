// The checkout: email, shipping address and a test card token, sent to
// Cart's checkout. The order is then created by events; the page goes on to
// the order page, which follows it.

import { checkoutCart } from "../api.js";
import { h, money, problemBanner } from "../dom.js";
import { forgetCart, lastCheckout, loadCart, rememberCheckout } from "../cart-store.js";

// The payment gateway simulator's test card tokens
// (services/payments/simulator.go; a test holds this list to it), and one
// token it does not know.
const TOKENS = [
  { token: "tok_approve", label: "Approved", what: "Captured at once; the order ships." },
  { token: "tok_flaky", label: "Flaky gateway", what: "The gateway fails twice; Payments retries and the third attempt is approved." },
  { token: "tok_decline", label: "Declined", what: "card_declined: the order is cancelled and its stock released." },
  { token: "tok_insufficient_funds", label: "Insufficient funds", what: "Declined: the order is cancelled and its stock released." },
  { token: "tok_unavailable", label: "Gateway down", what: "Every attempt fails; after its retries Payments declines and the order is cancelled." },
  { token: "tok_charged_timeout", label: "Charged, answer lost", what: "The card is charged but every answer times out: Payments declines and cancels, then finds the charge by lookup and refunds it." },
  { token: "tok_unknown", label: "Unknown token", what: "Any other token: declined as invalid_token." },
];

const COUNTRIES = [
  ["AT", "Austria"], ["BE", "Belgium"], ["CH", "Switzerland"], ["CZ", "Czechia"], ["DE", "Germany"],
  ["DK", "Denmark"], ["ES", "Spain"], ["FI", "Finland"], ["FR", "France"], ["GB", "United Kingdom"],
  ["IE", "Ireland"], ["IT", "Italy"], ["NL", "Netherlands"], ["NO", "Norway"], ["PL", "Poland"],
  ["PT", "Portugal"], ["SE", "Sweden"], ["US", "United States"],
];

export async function render(main, params, nav) {
  const head = h("div", { class: "page-head" },
    h("div", null, h("div", { class: "crumbs" }, h("a", { href: "/shop/cart" }, "Cart"), " / Checkout"),
      h("h1", null, "Checkout"),
      h("p", { class: "lede" }, "Cart checks out at once; Orders, Payments, Inventory and Fulfillment take it from there.")));
  main.append(head, h("p", { class: "loading" }, "Loading your cart…"));
  let cart;
  try {
    cart = await loadCart(nav.signal);
  } catch (err) {
    if (nav.signal.aborted) return;
    main.replaceChildren(head, problemBanner(err, "Your cart could not be read:"));
    return;
  }
  if (nav.signal.aborted) return;
  if (!cart || cart.items.length === 0) {
    main.replaceChildren(head, h("div", { class: "panel empty" }, h("h2", null, "Nothing to check out"),
      h("p", null, "Your cart is empty."), h("a", { class: "btn", href: "/shop/" }, "Go shopping")));
    return;
  }

  const last = lastCheckout() || {};
  const addr = last.shipping_address || {};
  const field = (name, label, attrs = {}, cls = "") => h("div", { class: `field ${cls}` },
    h("label", { for: `f-${name}` }, label),
    h("input", { id: `f-${name}`, name, type: "text", value: attrs.value ?? "", ...attrs }));
  const country = h("select", { id: "f-country", name: "country", required: true },
    h("option", { value: "" }, "Choose…"),
    COUNTRIES.map(([code, name]) => h("option", { value: code, selected: addr.country === code }, name)));

  const errors = h("div");
  const submit = h("button", { type: "submit", class: "btn big block" }, `Place order · ${money(cart.total_cents, cart.currency)}`);
  const form = h("form", { class: "form panel" },
    errors,
    h("fieldset", null, h("legend", null, "Contact"),
      h("div", { class: "fields" },
        field("customer_email", "Email", { type: "email", required: true, autocomplete: "email", maxlength: 254, value: last.customer_email || cart.customer_email || "" }))),
    h("fieldset", null, h("legend", null, "Shipping address"),
      h("div", { class: "fields" },
        field("name", "Full name", { required: true, maxlength: 100, autocomplete: "name", value: addr.name }),
        field("line1", "Address", { required: true, maxlength: 100, autocomplete: "address-line1", value: addr.line1 }),
        field("line2", "Address line 2 (optional)", { maxlength: 100, autocomplete: "address-line2", value: addr.line2 }),
        field("city", "City", { required: true, maxlength: 100, autocomplete: "address-level2", value: addr.city }, "half"),
        field("postal_code", "Postal code", { required: true, maxlength: 16, autocomplete: "postal-code", value: addr.postal_code }, "half"),
        h("div", { class: "field" }, h("label", { for: "f-country" }, "Country"), country))),
    h("fieldset", null, h("legend", null, "Payment"),
      h("p", { class: "small muted" }, "The shop pays through a gateway simulator: each test card token takes the order down a different path."),
      h("div", { class: "tokens", role: "radiogroup", "aria-label": "Card token" },
        TOKENS.map((t, i) => h("label", { class: "token" },
          h("input", { type: "radio", name: "payment_token", value: t.token, checked: i === 0 }),
          h("span", { class: "label" }, t.label),
          h("span", { class: "code" }, t.token),
          h("span", { class: "what" }, t.what))))),
    submit);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!form.reportValidity()) return;
    const data = new FormData(form);
    const text = (k) => String(data.get(k) || "").trim();
    const shipping = { name: text("name"), line1: text("line1"), city: text("city"), postal_code: text("postal_code"), country: text("country") };
    if (text("line2")) shipping.line2 = text("line2");
    const body = { customer_email: text("customer_email"), shipping_address: shipping, payment_token: text("payment_token") };
    errors.replaceChildren();
    submit.disabled = true;
    submit.textContent = "Placing your order…";
    try {
      const done = await checkoutCart(cart.id, body);
      rememberCheckout({ customer_email: body.customer_email, shipping_address: shipping });
      forgetCart();
      nav.navigate(`/shop/orders/${encodeURIComponent(done.order_id)}?placed=1`);
    } catch (err) {
      errors.replaceChildren(problemBanner(err, "The order was not placed:"));
      errors.scrollIntoView({ block: "nearest", behavior: "smooth" });
      submit.disabled = false;
      submit.textContent = `Place order · ${money(cart.total_cents, cart.currency)}`;
    }
  });

  const side = h("aside", { class: "panel summary sticky" },
    h("h2", null, "Your order"),
    h("div", { class: "summary-lines" }, cart.items.map((it) => h("div", null,
      h("span", null, `${it.quantity} × ${it.name}`), h("span", { class: "nowrap" }, money(it.line_total_cents, cart.currency))))),
    h("dl", null,
      h("dt", null, "Shipping"), h("dd", null, "Free"),
      h("dt", { class: "grand" }, "Total"), h("dd", { class: "grand" }, money(cart.total_cents, cart.currency))),
    cart.items.some((it) => it.price_changed)
      ? h("p", { class: "note" }, "Some prices changed since they were added to the cart; you pay the prices shown.")
      : null,
    h("a", { class: "small", href: "/shop/cart" }, "Change the cart"));

  main.replaceChildren(head, h("div", { class: "layout-2" }, form, side));
}
