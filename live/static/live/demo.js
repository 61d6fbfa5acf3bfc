// The live order demo: sign in, place an order, and follow it through the order's
// Server-Sent Events stream (GET /api/v1/orders/{id}/stream?token=<stream token>).
// No build step, no external assets.
"use strict";

(function () {
  const api = document.body.dataset.api;
  const $ = (id) => document.getElementById(id);
  const STATUS_AFTER = { "order.placed": "pending", "order.paid": "paid", "order.cancelled": "cancelled" };
  const EVENT_TYPES = ["order.placed", "order.paid", "order.cancelled", "payment.captured", "payment.failed", "payment.refunded"];
  let apiToken = null;
  let source = null;

  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = !message;
  }

  async function call(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (apiToken) headers["Authorization"] = "Token " + apiToken;
    const response = await fetch(api + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = response.status === 204 ? null : await response.json();
    if (!response.ok) {
      const error = (data && data.error) || {};
      throw new Error(error.message || ("HTTP " + response.status));
    }
    return data;
  }

  async function signInAs(username, password) {
    const answer = await call("POST", "/auth/token", { username, password, name: "live demo" });
    apiToken = answer.token;
    $("who-name").textContent = username;
    $("who").hidden = false;
    $("sign-in-section").hidden = true;
    await loadProducts();
    $("shop-section").hidden = false;
  }

  async function signIn(event) {
    event.preventDefault();
    showError("");
    const form = new FormData(event.target);
    try {
      await signInAs(form.get("username"), form.get("password"));
    } catch (error) {
      showError("Sign-in failed: " + error.message);
    }
  }

  async function register(event) {
    event.preventDefault();
    showError("");
    const form = new FormData(event.target);
    try {
      await call("POST", "/auth/register", {
        username: form.get("username"), email: form.get("email"), password: form.get("password"),
      });
      await signInAs(form.get("username"), form.get("password"));
    } catch (error) {
      showError("The account was not created: " + error.message);
    }
  }

  async function signOut() {
    if (source) source.close();
    try { await call("POST", "/auth/logout"); } catch (error) { /* signed out either way */ }
    apiToken = null;
    $("who").hidden = true;
    $("shop-section").hidden = true;
    $("order-section").hidden = true;
    $("sign-in-section").hidden = false;
  }

  async function loadProducts() {
    const select = $("products");
    select.replaceChildren();
    const page = await call("GET", "/products?page_size=100");
    for (const product of page.results) {
      const option = document.createElement("option");
      option.value = product.sku;
      option.textContent = `${product.name} — ${product.price} ${product.currency} (${product.stock} in stock)`;
      option.disabled = product.stock < 1;
      select.append(option);
    }
  }

  async function placeOrder(event) {
    event.preventDefault();
    showError("");
    const form = new FormData(event.target);
    try {
      const order = await call("POST", "/orders", {
        items: [{ sku: form.get("sku"), quantity: Number(form.get("quantity")) }],
        payment_token: form.get("payment_token"),
      });
      follow(order);
    } catch (error) {
      showError("The order was not placed: " + error.message);
    }
  }

  function setStatus(status) {
    const badge = $("order-status");
    badge.textContent = status;
    badge.className = "status " + status;
  }

  function follow(order) {
    if (source) source.close();
    $("order-id").textContent = "#" + order.id;
    $("timeline").replaceChildren();
    setStatus(order.status);
    $("order-section").hidden = false;
    open(order.id, null);
  }

  // A stream token opens this order's stream (EventSource cannot send Authorization).
  // When the stream ends (its maximum age) the browser reconnects by itself with
  // Last-Event-ID; if that is refused (the token expired), a new token and a new
  // EventSource resume after the last event seen (lastEventId).
  async function open(orderId, lastEventId) {
    let token;
    try {
      token = (await call("POST", `/orders/${orderId}/stream-token`)).token;
    } catch (error) {
      showError("Cannot follow the order: " + error.message);
      return;
    }
    let url = `${api}/orders/${orderId}/stream?token=${encodeURIComponent(token)}`;
    if (lastEventId) url += `&lastEventId=${encodeURIComponent(lastEventId)}`;
    const stream = new EventSource(url);
    source = stream;
    let last = lastEventId;
    $("connection").textContent = "connecting…";
    stream.onopen = () => { $("connection").textContent = "live"; };
    for (const type of EVENT_TYPES) {
      stream.addEventListener(type, (message) => {
        last = message.lastEventId;
        show(message);
      });
    }
    stream.onerror = () => {
      if (stream.readyState === EventSource.CLOSED && source === stream) {
        $("connection").textContent = "reconnecting…";
        setTimeout(() => open(orderId, last), 1000);
      } else {
        $("connection").textContent = "reconnecting…";
      }
    };
  }

  function show(message) {
    const envelope = JSON.parse(message.data);
    const row = document.createElement("tr");
    row.dataset.type = envelope.type;
    for (const text of [message.lastEventId, envelope.type, new Date(envelope.occurred_at).toLocaleTimeString()]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    $("timeline").append(row);
    if (STATUS_AFTER[envelope.type]) setStatus(STATUS_AFTER[envelope.type]);
  }

  $("sign-in").addEventListener("submit", signIn);
  $("register").addEventListener("submit", register);
  $("sign-out").addEventListener("click", signOut);
  $("place").addEventListener("submit", placeOrder);
})();
