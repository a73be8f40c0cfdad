// The shopper's cart: its id kept in localStorage, the last state the Cart
// API answered, and a "cart:change" event on window whenever it changes
// (the header's count listens to it).

import { createCart, getCart, setCartItem, removeCartItem } from "./api.js";

const KEY = "bounded.cart";
const CHECKOUT_KEY = "bounded.checkout";

// MAX_QUANTITY is the Cart API's largest quantity per line.
export const MAX_QUANTITY = 99;

let current = null;

function storedID() {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

function store(id) {
  try {
    if (id) localStorage.setItem(KEY, id);
    else localStorage.removeItem(KEY);
  } catch {
    // Private browsing may refuse storage: the cart then lasts the page.
  }
}

function changed(cart) {
  current = cart;
  window.dispatchEvent(new CustomEvent("cart:change", { detail: cart }));
}

// currentCart is the last cart state seen (null when there is none).
export function currentCart() {
  return current;
}

// itemCount is the number of units in a cart.
export function itemCount(cart) {
  return cart ? cart.items.reduce((n, it) => n + it.quantity, 0) : 0;
}

// forgetCart drops the stored cart (after its checkout, or when the Cart
// service no longer knows it).
export function forgetCart() {
  store(null);
  changed(null);
}

// loadCart reads the stored cart from the Cart API: null when there is
// none, or when the service no longer knows it, or it was checked out
// (then it is forgotten).
export async function loadCart(signal) {
  const id = storedID();
  if (!id) {
    changed(null);
    return null;
  }
  let cart;
  try {
    cart = await getCart(id, signal);
  } catch (err) {
    if (err.status === 404) {
      forgetCart();
      return null;
    }
    throw err;
  }
  if (cart.status !== "open") {
    forgetCart();
    return null;
  }
  changed(cart);
  return cart;
}

// addToCart adds n units of sku, opening a cart first if there is none
// (or a new one if the stored cart is gone or checked out). The Cart API
// sets a line's quantity rather than adding to it, so this reads the cart
// first. Returns the cart after the change; throws the API's error.
export async function addToCart(sku, n = 1) {
  let cart = await loadCart();
  if (!cart) {
    cart = await createCart();
    store(cart.id);
  }
  const line = cart.items.find((it) => it.sku === sku);
  const want = Math.min(MAX_QUANTITY, (line ? line.quantity : 0) + n);
  if (line && line.quantity === want) {
    const err = new Error(`At most ${MAX_QUANTITY} of one product per cart.`);
    err.detail = err.message;
    throw err;
  }
  cart = await setCartItem(cart.id, sku, want);
  changed(cart);
  return cart;
}

// setQuantity sets a line of the current cart.
export async function setQuantity(cartID, sku, quantity) {
  const cart = await setCartItem(cartID, sku, quantity);
  changed(cart);
  return cart;
}

// removeLine removes a line of the current cart.
export async function removeLine(cartID, sku) {
  const cart = await removeCartItem(cartID, sku);
  changed(cart);
  return cart;
}

// lastCheckout is the email and address of the last checkout in this
// browser (to fill the form in again), or null.
export function lastCheckout() {
  try {
    return JSON.parse(localStorage.getItem(CHECKOUT_KEY) || "null");
  } catch {
    return null;
  }
}

// rememberCheckout keeps the email and address (never the card token).
export function rememberCheckout(details) {
  try {
    localStorage.setItem(CHECKOUT_KEY, JSON.stringify(details));
  } catch {
    // Not kept: the form starts empty next time.
  }
}
