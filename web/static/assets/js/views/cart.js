// The cart: its lines at Cart's current prices, with the price-changed and
// unavailable flags the Cart API gives, quantities to change, and the way
// to checkout.

import { h, money, problemBanner, tile } from "../dom.js";
import { MAX_QUANTITY, loadCart, removeLine, setQuantity } from "../cart-store.js";

export async function render(main, params, nav) {
  const head = h("div", { class: "page-head" },
    h("div", null, h("h1", null, "Your cart"),
      h("p", { class: "lede" }, "Prices are Cart's copy of the catalog, kept current by Catalog's events.")));
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
  const errors = h("div");
  const body = h("div");
  main.replaceChildren(head, errors, body);

  function draw() {
    if (!cart || cart.items.length === 0) {
      body.replaceChildren(h("div", { class: "panel empty" }, h("h2", null, "Your cart is empty"),
        h("p", null, "Find something you like in the shop."),
        h("a", { class: "btn", href: "/shop/" }, "Go shopping")));
      return;
    }
    body.replaceChildren(h("div", { class: "layout-2" },
      h("section", { class: "panel", "aria-label": "Cart lines" }, h("div", { class: "lines" }, cart.items.map(line))),
      summary(cart)));
  }

  // change runs one Cart API call, then redraws with the cart it answers;
  // a refused change shows the problem's detail and keeps the old cart.
  async function change(op) {
    errors.replaceChildren();
    for (const el of body.querySelectorAll("button, input")) el.disabled = true;
    try {
      cart = await op();
    } catch (err) {
      errors.replaceChildren(problemBanner(err, "The cart was not changed:"));
    }
    draw();
  }

  function line(it) {
    const input = h("input", {
      type: "number", min: 1, max: MAX_QUANTITY, value: it.quantity, inputmode: "numeric",
      "aria-label": `Quantity of ${it.name}`,
    });
    input.addEventListener("change", () => {
      const q = Math.trunc(Number(input.value));
      if (!Number.isFinite(q) || q === it.quantity) {
        input.value = it.quantity;
        return;
      }
      // Out-of-range values go to the API, whose problem says what is allowed.
      change(() => setQuantity(cart.id, it.sku, q));
    });
    const flags = [];
    if (it.price_changed) {
      flags.push(h("span", { class: "badge warn", title: "The price changed since this line was set" },
        "Price changed: ", h("span", { class: "was" }, money(it.price_when_added_cents, cart.currency)),
        " → ", money(it.unit_price_cents, cart.currency)));
    }
    if (!it.available) flags.push(h("span", { class: "badge danger" }, "No longer available: remove it to check out"));
    return h("div", { class: "line" },
      tile(it.name, it.sku),
      h("div", null,
        h("div", { class: "name" }, it.name),
        h("div", { class: "unit" }, h("span", { class: "mono" }, it.sku), " · ", money(it.unit_price_cents, cart.currency), " each"),
        flags.length ? h("div", { class: "flags" }, flags) : null),
      h("div", { class: "qty" },
        h("button", { type: "button", "aria-label": "One less", disabled: it.quantity <= 1,
          onclick: () => change(() => setQuantity(cart.id, it.sku, it.quantity - 1)) }, "−"),
        input,
        h("button", { type: "button", "aria-label": "One more", disabled: it.quantity >= MAX_QUANTITY,
          onclick: () => change(() => setQuantity(cart.id, it.sku, it.quantity + 1)) }, "+")),
      h("div", { class: "total" }, money(it.line_total_cents, cart.currency)),
      h("button", { type: "button", class: "btn icon", "aria-label": `Remove ${it.name}`, title: "Remove",
        onclick: () => change(() => removeLine(cart.id, it.sku)) }, "✕"));
  }

  draw();
}

function summary(cart) {
  const units = cart.items.reduce((n, it) => n + it.quantity, 0);
  const blocked = cart.items.some((it) => !it.available);
  const changed = cart.items.some((it) => it.price_changed);
  return h("aside", { class: "panel summary sticky" },
    h("h2", null, "Summary"),
    h("dl", null,
      h("dt", null, "Items"), h("dd", null, String(units)),
      h("dt", null, "Shipping"), h("dd", null, "Free"),
      h("dt", { class: "grand" }, "Total"), h("dd", { class: "grand" }, money(cart.total_cents, cart.currency))),
    blocked
      ? h("button", { type: "button", class: "btn block big", disabled: true }, "Checkout")
      : h("a", { class: "btn block big", href: "/shop/checkout" }, "Checkout"),
    blocked ? h("p", { class: "note" }, "A product in your cart is no longer available: remove it to check out.") : null,
    changed ? h("p", { class: "note" }, "Some prices changed since you added them; checkout charges the prices shown here.") : null,
    h("p", { class: "note" }, "Cart ", h("span", { class: "mono" }, cart.id)));
}
