// The storefront: the active products of Catalog by category, with their
// prices, the stock Inventory has, and an add-to-cart button.

import { listActiveProducts, listCategories, listStock } from "../api.js";
import { h, money, problemBanner, tile, toast } from "../dom.js";
import { addToCart, currentCart } from "../cart-store.js";

const LOW_STOCK = 10;

export async function render(main, params, nav) {
  const head = h("div", { class: "page-head" },
    h("div", null, h("h1", null, "Shop"),
      h("p", { class: "lede" }, "Products and prices from Catalog, stock from Inventory, your cart kept by Cart.")));
  main.append(head, h("p", { class: "loading" }, "Loading the catalog…"));

  const [cats, products, stock] = await Promise.allSettled([
    listCategories(nav.signal), listActiveProducts(nav.signal), listStock(nav.signal),
  ]);
  if (nav.signal.aborted) return;
  main.replaceChildren(head);
  if (products.status === "rejected") {
    main.append(problemBanner(products.reason, "The catalog could not be read:"));
    return;
  }
  if (products.value.length === 0) {
    main.append(h("div", { class: "empty" }, h("h2", null, "Nothing for sale yet"),
      h("p", null, "The catalog has no active products. Start bounded on a new data directory to get the demo catalog.")));
    return;
  }
  const names = new Map(cats.status === "fulfilled" ? cats.value.map((c) => [c.slug, c.name]) : []);
  const available = new Map(stock.status === "fulfilled" ? stock.value.map((s) => [s.sku, s.available]) : []);

  // Categories in Catalog's (slug) order; products of a category Catalog
  // did not list come last, under their slug.
  const groups = new Map();
  for (const slug of names.keys()) groups.set(slug, []);
  for (const p of products.value) {
    if (!groups.has(p.category)) groups.set(p.category, []);
    groups.get(p.category).push(p);
  }
  for (const [slug, list] of groups) if (list.length === 0) groups.delete(slug);

  const notes = [];
  if (cats.status === "rejected") notes.push(problemBanner(cats.reason, "Category names are unavailable:"));
  if (stock.status === "rejected") notes.push(h("div", { class: "banner banner-warn" }, "Stock levels are unavailable right now (Inventory did not answer); you can still shop."));

  let selected = nav.search.get("category");
  if (selected && !groups.has(selected)) selected = null;

  const chips = h("div", { class: "chips", role: "toolbar", "aria-label": "Categories" });
  const sections = [];
  const chip = (slug, label, n) => h("button", {
    type: "button", class: "chip", "aria-pressed": String(selected === slug),
    onclick: () => {
      selected = slug;
      const url = slug ? `/shop/?category=${encodeURIComponent(slug)}` : "/shop/";
      history.replaceState(null, "", url);
      show();
    },
  }, label, h("span", { class: "n" }, String(n)));
  chips.append(chip(null, "All", products.value.length));
  for (const [slug, list] of groups) chips.append(chip(slug, names.get(slug) || slug, list.length));

  const inCart = new Map(); // sku → the card's "in cart" note
  for (const [slug, list] of groups) {
    const section = h("section", { class: "category", dataset: { slug } },
      h("h2", null, names.get(slug) || slug, h("span", { class: "n" }, `${list.length} ${list.length === 1 ? "product" : "products"}`)),
      h("div", { class: "grid" }, list.map((p) => card(p, available, inCart))));
    sections.push(section);
  }

  function show() {
    for (const b of chips.children) b.setAttribute("aria-pressed", "false");
    const i = selected ? [...groups.keys()].indexOf(selected) + 1 : 0;
    chips.children[i].setAttribute("aria-pressed", "true");
    for (const s of sections) s.hidden = selected !== null && s.dataset.slug !== selected;
  }

  function markInCart(cart) {
    for (const [sku, note] of inCart) {
      const line = cart && cart.items.find((it) => it.sku === sku);
      note.textContent = line ? `${line.quantity} in cart` : "";
    }
  }
  window.addEventListener("cart:change", (e) => markInCart(e.detail), { signal: nav.signal });

  main.append(...notes, chips, ...sections);
  show();
  markInCart(currentCart());
}

function card(p, available, inCart) {
  const note = h("span", { class: "in-cart" });
  inCart.set(p.sku, note);
  const button = h("button", { type: "button", class: "btn small" }, "Add to cart");
  button.addEventListener("click", async () => {
    button.disabled = true;
    button.textContent = "Adding…";
    try {
      await addToCart(p.sku, 1);
      toast(`Added ${p.name}.`, { link: { href: "/shop/cart", text: "View cart" } });
    } catch (err) {
      toast(err.detail || err.message, { error: true });
    } finally {
      button.disabled = false;
      button.textContent = "Add to cart";
    }
  });
  return h("article", { class: "card" },
    tile(p.name, p.sku),
    h("div", { class: "card-body" },
      h("div", { class: "name" }, p.name),
      h("div", { class: "sku" }, p.sku),
      h("p", { class: "desc" }, p.short_description),
      stockNote(available.get(p.sku)),
      h("div", { class: "card-foot" },
        h("div", null, h("div", { class: "price" }, money(p.price_cents, p.currency)), note),
        button)));
}

function stockNote(n) {
  if (n === undefined) return null;
  if (n <= 0) return h("span", { class: "stock out" }, "Out of stock: an order would be cancelled");
  if (n < LOW_STOCK) return h("span", { class: "stock low" }, `Only ${n} left`);
  return h("span", { class: "stock" }, "In stock");
}
