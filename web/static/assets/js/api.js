// The services' JSON APIs, as the pages use them: every request the front
// end makes is one of the calls below (a test in package web holds each
// call's method and path to the services' OpenAPI documents).

// ApiError is a failed call: an HTTP status with the problem's title and
// detail (RFC 9457, application/problem+json), or status 0 when the shop
// could not be reached at all.
export class ApiError extends Error {
  constructor(status, title, detail, path) {
    super(detail || title || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.title = title;
    this.detail = detail || title || `HTTP ${status}`;
    this.path = path;
  }
}

// call sends one request and returns the decoded JSON answer, or throws an
// ApiError (an AbortError when signal aborts it).
async function call(method, path, body, signal) {
  const init = { method, headers: { Accept: "application/json" }, signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "Network error", `The shop could not be reached (${err.message}).`, path);
  }
  const type = res.headers.get("Content-Type") || "";
  let data = null;
  if (type.includes("json")) {
    try {
      data = await res.json();
    } catch (err) {
      if (err.name === "AbortError") throw err;
      data = null;
    }
  }
  if (!res.ok) {
    const title = (data && data.title) || res.statusText;
    const detail = data && data.detail;
    throw new ApiError(res.status, title, detail, path);
  }
  return data;
}

// query encodes the set parameters (undefined, null and "" are left out:
// the services refuse unknown or empty ones).
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  return q.toString();
}

const seg = encodeURIComponent;

// all follows next_after through every page of a list.
async function all(fetchPage, key) {
  const out = [];
  let after = null;
  for (let pages = 0; pages < 100; pages++) {
    const page = await fetchPage(after);
    out.push(...(page[key] || []));
    if (!page.next_after) break;
    after = page.next_after;
  }
  return out;
}

// Catalog

export function listCategories(signal) {
  return all((after) => call("GET", `/catalog/categories?${query({ limit: 500, after })}`, undefined, signal), "categories");
}

export function listActiveProducts(signal) {
  return all((after) => call("GET", `/catalog/products?${query({ active: "true", limit: 500, after })}`, undefined, signal), "products");
}

// Inventory

export function listStock(signal) {
  return all((after) => call("GET", `/inventory/stock?${query({ limit: 500, after })}`, undefined, signal), "items");
}

// Cart

export function createCart() {
  return call("POST", `/cart/carts`, {});
}

export function getCart(id, signal) {
  return call("GET", `/cart/carts/${seg(id)}`, undefined, signal);
}

export function setCartItem(id, sku, quantity) {
  return call("PUT", `/cart/carts/${seg(id)}/items/${seg(sku)}`, { quantity });
}

export function removeCartItem(id, sku) {
  return call("DELETE", `/cart/carts/${seg(id)}/items/${seg(sku)}`);
}

// checkoutCart answers {order_id, cart_id, status, order_url}; the order
// itself is created asynchronously by Orders.
export function checkoutCart(id, checkout) {
  return call("POST", `/cart/carts/${seg(id)}/checkout`, checkout);
}

// Orders

// listOrders takes {status, customer_email, limit}; newest first.
export function listOrders(filter, signal) {
  return call("GET", `/orders/orders?${query({ limit: 100, ...filter })}`, undefined, signal);
}

// getOrderPage is the order composed by Orders from its own data, Payments
// and Fulfillment: {order, payments, shipments, unavailable}.
export function getOrderPage(id, signal) {
  return call("GET", `/orders/orders/${seg(id)}/page`, undefined, signal);
}
