// One device of the demo: the catalogue and the cart of one session, kept in sync by its
// own change feed (EventSource with a stream token) and its own ETag. ?name= names the
// device; ?role=guest makes it a guest's device that can sign in (merge its cart).
// Everything goes through the public /v1 API, as an app would.
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const NAME = (params.get("name") || "device").slice(0, 20);
  const GUEST = params.get("role") === "guest";
  const LOG_LINES = 8;

  const state = {
    token: null, // this device's bearer token (the user's, or the guest's)
    userToken: null, // the user's: a guest signs in with it
    userName: "",
    cart: null,
    products: [],
    currency: null,
    online: true,
    syncing: false,
    queue: [], // offline operations, in the shape of POST /v1/cart/ops
    results: [],
    merge: null,
    source: null,
    streamGeneration: 0,
    opCounter: 0,
  };

  const byId = (id) => document.getElementById(id);

  // --- small helpers -------------------------------------------------------------------

  function h(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function randomKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes); // (crypto.randomUUID needs a secure context)
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // Money: integer minor units, formatted with the cart's currency (never through floats).
  function money(amount, currency) {
    const c = currency || state.currency || { minor_unit: 2, prefix: "", suffix: "" };
    if (amount === null || amount === undefined) return "–";
    const negative = amount < 0;
    const digits = String(Math.abs(Math.trunc(amount))).padStart(c.minor_unit + 1, "0");
    const whole = c.minor_unit ? digits.slice(0, -c.minor_unit) : digits;
    const fraction = c.minor_unit ? digits.slice(-c.minor_unit) : "";
    const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    const number = fraction ? `${grouped}.${fraction}` : grouped;
    return `${negative ? "−" : ""}${c.prefix}${number}${c.suffix}`;
  }

  function versionOf(cart) {
    const [epoch, n] = String(cart.version).split(".");
    return { epoch, n: Number(n) };
  }

  function clock() {
    const now = new Date();
    const pad = (n, w = 2) => String(n).padStart(w, "0");
    return `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}.${pad(now.getMilliseconds(), 3)}`;
  }

  function log(text, kind = "") {
    const list = byId("log");
    list.prepend(h("li", { class: kind }, h("time", {}, clock()), " ", text));
    while (list.children.length > LOG_LINES) list.lastElementChild.remove();
  }

  function notice(text, kind = "error") {
    const node = byId("notice");
    node.hidden = !text;
    node.textContent = text || "";
    node.dataset.kind = kind;
  }

  function tellPage() {
    try {
      if (window.parent !== window && window.parent.cartsyncDemo) window.parent.cartsyncDemo.changed();
    } catch (_) {
      // not inside the demo page: nothing to tell
    }
  }

  function setStatus(text) {
    const node = byId("status");
    node.textContent = text;
    node.dataset.state = text;
  }

  // --- the API -------------------------------------------------------------------------

  async function api(method, path, body, headers = {}, token = state.token) {
    const started = performance.now();
    const init = { method, headers: { Authorization: `Bearer ${token}`, ...headers }, cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      return { status: 0, data: null, ms: Math.round(performance.now() - started), error };
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = { code: "not_json", message: text.slice(0, 200) };
    }
    tellPage();
    return {
      status: response.status,
      data,
      etag: response.headers.get("ETag"),
      retryAfter: Number(response.headers.get("Retry-After") || 0),
      ms: Math.round(performance.now() - started),
    };
  }

  async function session() {
    try {
      if (window.parent !== window && window.parent.cartsyncDemo) return await window.parent.cartsyncDemo.session;
    } catch (_) {
      // opened on its own (or framed by another origin): ask for a session of our own
    }
    const user = params.get("user");
    const response = await fetch(`/demo/session${user ? `?user=${encodeURIComponent(user)}` : ""}`, { cache: "no-store" });
    if (!response.ok) throw new Error(`GET /demo/session answered ${response.status}`);
    return response.json();
  }

  // Take a cart if it is not older than the one shown (a write's answer can arrive after
  // the change feed already brought a newer version).
  function accept(cart, how) {
    const shown = state.cart;
    if (shown && shown.id === cart.id) {
      const a = versionOf(shown);
      const b = versionOf(cart);
      if (a.epoch === b.epoch && b.n <= a.n) return false;
    }
    state.cart = cart;
    state.currency = cart.currency;
    if (how) log(`${how} v${versionOf(cart).n}`, how === "event" ? "event" : "");
    render();
    tellPage();
    return true;
  }

  // --- the change feed -----------------------------------------------------------------

  function closeStream() {
    state.streamGeneration += 1;
    if (state.source) state.source.close();
    state.source = null;
  }

  async function openStream() {
    closeStream();
    const generation = state.streamGeneration;
    if (!state.online) return;
    setStatus("connecting");
    const answer = await api("POST", "/v1/cart/events/token");
    if (generation !== state.streamGeneration || !state.online) return;
    if (answer.status !== 201) {
      setStatus("reconnecting");
      log(`POST /v1/cart/events/token → ${answer.status || "network error"}`, "error");
      await delay(2000);
      if (generation === state.streamGeneration && state.online) openStream();
      return;
    }
    const source = new EventSource(`/v1/cart/events?stream_token=${encodeURIComponent(answer.data.token)}`);
    state.source = source;
    source.addEventListener("cart", (event) => {
      if (state.source !== source) return;
      setStatus("live");
      accept(JSON.parse(event.data), "event");
    });
    source.onopen = () => {
      if (state.source === source) setStatus("live");
    };
    source.onerror = () => {
      if (state.source !== source) return;
      setStatus("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        // refused (the one-minute stream token expired): a new token, a new stream
        setTimeout(() => {
          if (state.source === source) openStream();
        }, 1000);
      }
    };
  }

  // --- writes --------------------------------------------------------------------------

  function requestOf(op) {
    switch (op.type) {
      case "add":
        return ["POST", "/v1/cart/items", { product_id: op.product_id, quantity: op.quantity }];
      case "set_quantity":
        return ["PATCH", `/v1/cart/items/${encodeURIComponent(op.key)}`, { quantity: op.quantity }];
      case "remove":
        return ["DELETE", `/v1/cart/items/${encodeURIComponent(op.key)}`, undefined];
      case "apply_coupon":
        return ["POST", "/v1/cart/coupons", { code: op.code }];
      case "remove_coupon":
        return ["DELETE", `/v1/cart/coupons/${encodeURIComponent(op.code)}`, undefined];
      case "shipping":
        return ["PUT", "/v1/cart/shipping", { rate_id: op.rate_id, package_id: op.package_id }];
      default:
        throw new Error(`unknown operation ${op.type}`);
    }
  }

  function describe(op) {
    const line = state.cart && state.cart.items.find((item) => item.key === op.key);
    const name = op.name || (line && line.name) || op.key;
    switch (op.type) {
      case "add":
        return `add ${name} × ${op.quantity}`;
      case "set_quantity":
        return `${name}: quantity ${op.quantity}`;
      case "remove":
        return `remove ${name}`;
      case "apply_coupon":
        return `apply coupon “${op.code}”`;
      case "remove_coupon":
        return `remove coupon “${op.code}”`;
      case "shipping":
        return `ship by ${op.rate_name || op.rate_id}`;
      default:
        return op.type;
    }
  }

  // Every change of the cart: sent now, or queued while the device is offline (or while
  // the queue is being replayed, so nothing overtakes it).
  async function change(op) {
    if (!state.online || state.syncing) {
      state.opCounter += 1;
      state.queue.push({ ...op, op_id: `${NAME}-${state.opCounter}` });
      render();
      return;
    }
    notice("");
    const [method, path, body] = requestOf(op);
    const answer = await api(method, path, body, { "Idempotency-Key": randomKey() });
    const version = answer.data && answer.data.version ? ` v${versionOf(answer.data).n}` : "";
    log(`${method} ${path} → ${answer.status || "network error"}${version} · ${answer.ms} ms`, answer.status === 200 ? "" : "error");
    if (answer.status === 200) {
      accept(answer.data);
    } else {
      const data = answer.data || {};
      notice(data.code ? `${data.code}: ${data.message}` : "The gateway did not answer.");
      if (data.cart) accept(data.cart);
    }
  }

  // Back online: the queue goes in one POST /v1/cart/ops with one Idempotency-Key, kept
  // across retries until the answer says every operation's outcome.
  async function replay() {
    state.syncing = true;
    setStatus("syncing");
    render();
    while (state.queue.length) {
      const batch = state.queue.slice(0, 100);
      const labels = new Map(batch.map((op) => [op.op_id, describe(op)]));
      const operations = batch.map(({ name, rate_name, ...op }) => op);
      const key = randomKey();
      let answer;
      for (;;) {
        answer = await api("POST", "/v1/cart/ops", { operations }, { "Idempotency-Key": key });
        const version = answer.data && answer.data.cart ? ` v${versionOf(answer.data.cart).n}` : "";
        log(`POST /v1/cart/ops (${operations.length}) → ${answer.status || "network error"}${version} · ${answer.ms} ms`, answer.status === 200 ? "" : "error");
        if (answer.status === 200) break;
        if (answer.status === 202 || answer.status === 409 || answer.status === 503 || answer.status === 504 || answer.status === 0) {
          await delay(Math.min(5, answer.retryAfter || 1) * 1000); // same key: exactly once
          continue;
        }
        break;
      }
      if (answer.status !== 200) {
        const data = answer.data || {};
        notice(`The queue was not replayed: ${data.code || answer.status}: ${data.message || ""}`);
        break;
      }
      state.results = answer.data.results.map((result) => ({ ...result, label: labels.get(result.op_id) || result.op_id }));
      const done = new Set(batch.map((op) => op.op_id));
      state.queue = state.queue.filter((op) => !done.has(op.op_id));
      accept(answer.data.cart);
    }
    state.syncing = false;
    render();
    openStream();
  }

  function setOnline(online) {
    state.online = online;
    if (!online) {
      closeStream();
      setStatus("offline");
      notice("");
      render();
      return;
    }
    notice("");
    state.results = [];
    if (state.queue.length) replay();
    else openStream();
  }

  // --- the guest signs in ----------------------------------------------------------------

  async function signIn() {
    const answer = await api("POST", "/v1/cart/merge", { guest_token: state.token }, { "Idempotency-Key": randomKey() }, state.userToken);
    log(`POST /v1/cart/merge → ${answer.status || "network error"} · ${answer.ms} ms`, answer.status === 200 ? "" : "error");
    if (answer.status !== 200) {
      const data = answer.data || {};
      notice(data.code ? `${data.code}: ${data.message}` : "The gateway did not answer.");
      return;
    }
    state.merge = answer.data.merge;
    // The guest's cart is retired: its token now has a new, empty cart (another feed).
    await loadCart();
    openStream();
  }

  async function newGuest() {
    const response = await fetch("/v1/session/guest", { method: "POST", cache: "no-store" });
    if (response.status !== 201) {
      notice(`POST /v1/session/guest → ${response.status}`);
      return;
    }
    state.token = (await response.json()).token;
    state.merge = null;
    state.cart = null;
    log("POST /v1/session/guest → 201");
    await loadCart();
    openStream();
  }

  // --- reads -----------------------------------------------------------------------------

  async function loadCart() {
    const answer = await api("GET", "/v1/cart");
    log(`GET /v1/cart → ${answer.status} · ${answer.ms} ms`, answer.status === 200 ? "" : "error");
    if (answer.status === 200) {
      state.cart = null; // whatever this token's cart is now
      accept(answer.data);
    }
  }

  async function revalidate() {
    if (!state.cart) return loadCart();
    const etag = `"${state.cart.version}"`;
    const answer = await api("GET", "/v1/cart", undefined, { "If-None-Match": etag });
    log(`GET /v1/cart If-None-Match ${etag} → ${answer.status}${answer.status === 304 ? " not modified" : ""} · ${answer.ms} ms`);
    if (answer.status === 200) accept(answer.data);
  }

  async function loadProducts() {
    const answer = await api("GET", "/v1/products?per_page=20");
    if (answer.status !== 200) {
      byId("products").replaceChildren(h("li", { class: "muted" }, `GET /v1/products → ${answer.status}`));
      return;
    }
    state.products = answer.data.items;
    state.currency = state.currency || answer.data.currency;
    renderProducts();
  }

  // --- what the device shows -------------------------------------------------------------

  // The cart as this device shows it: the last cart it had, and, while offline, what its
  // queue will do to it (quantities and lines; totals stay the last known until replayed).
  function shownCart() {
    const cart = state.cart;
    const lines = (cart ? cart.items : []).map((item) => ({ ...item, queued: false, gone: false }));
    const coupons = (cart ? cart.coupons : []).map((coupon) => ({ ...coupon, queued: false, gone: false }));
    const chosen = new Map((cart ? cart.shipping : []).map((p) => [String(p.id), p.selected_rate]));
    for (const op of state.queue) {
      const line = lines.find((l) => l.key === op.key && !l.gone);
      if (op.type === "add") {
        const same = lines.find((l) => l.product_id === op.product_id && !l.gone);
        if (same) {
          same.quantity += op.quantity;
          same.queued = true;
        } else {
          lines.push({ key: null, product_id: op.product_id, name: op.name, quantity: op.quantity, subtotal: null, queued: true, gone: false });
        }
      } else if (op.type === "set_quantity" && line) {
        line.quantity = op.quantity;
        line.queued = true;
        if (op.quantity === 0) line.gone = true;
      } else if (op.type === "remove" && line) {
        line.gone = true;
        line.queued = true;
      } else if (op.type === "apply_coupon") {
        coupons.push({ code: op.code, discount: null, queued: true, gone: false });
      } else if (op.type === "remove_coupon") {
        for (const c of coupons) if (c.code === op.code) Object.assign(c, { gone: true, queued: true });
      } else if (op.type === "shipping") {
        chosen.set(String(op.package_id), op.rate_id);
      }
    }
    return { cart, lines, coupons, chosen };
  }

  function renderProducts() {
    const list = byId("products");
    const items = state.products.map((product) => {
      const price = h("span", { class: "price" }, money(product.price), product.on_sale ? h("s", { class: "muted" }, money(product.regular_price)) : null);
      if (!product.in_stock || !product.purchasable) {
        return h("li", { class: "product", dataset: { productId: product.id } }, h("span", { class: "name" }, product.name), price, h("button", { type: "button", disabled: true, class: "add" }, "sold out"));
      }
      if (product.variations.length) {
        const select = h(
          "select",
          { "aria-label": `${product.name} variation`, class: "variation" },
          product.variations.map((variation) => h("option", { value: variation.id }, variation.attributes.map((a) => labelOf(product, a)).join(", "))),
        );
        return h(
          "li",
          { class: "product", dataset: { productId: product.id } },
          h("span", { class: "name" }, product.name, select),
          price,
          h("button", { type: "button", class: "add", dataset: { productId: product.id }, onclick: () => change({ type: "add", product_id: Number(select.value), quantity: 1, name: `${product.name} (${select.selectedOptions[0].textContent})` }) }, "Add"),
        );
      }
      return h(
        "li",
        { class: "product", dataset: { productId: product.id } },
        h("span", { class: "name" }, product.name),
        price,
        h("button", { type: "button", class: "add", dataset: { productId: product.id }, onclick: () => change({ type: "add", product_id: product.id, quantity: 1, name: product.name }) }, "Add"),
      );
    });
    list.replaceChildren(...items);
  }

  function labelOf(product, attribute) {
    const known = product.attributes.find((a) => a.name === attribute.name);
    const value = known && known.values.find((v) => v.value === attribute.value);
    return value ? value.name : attribute.value;
  }

  function render() {
    const { cart, lines, coupons, chosen } = shownCart();
    const currency = (cart && cart.currency) || state.currency;
    byId("version").textContent = cart ? `v${versionOf(cart).n}` : "–";
    byId("version").title = cart ? cart.version : "";
    byId("etag").textContent = cart ? `"${cart.version}"` : "–";
    const visible = lines.filter((l) => !l.gone || l.queued);
    const count = lines.filter((l) => !l.gone).reduce((n, l) => n + l.quantity, 0);
    byId("items-count").textContent = cart ? `${count} ${count === 1 ? "item" : "items"}` : "";
    byId("empty").hidden = visible.length > 0;
    byId("lines").replaceChildren(
      ...visible.map((line) => {
        const attributes = (line.attributes || []).map((a) => a.value).join(", ");
        const controls = line.key && !line.gone && line.limits && line.limits.editable
          ? [
              h("button", { type: "button", class: "step", "aria-label": "one less", onclick: () => stepLine(line, -1) }, "−"),
              h("span", { class: "qty" }, line.quantity),
              h("button", { type: "button", class: "step", "aria-label": "one more", onclick: () => stepLine(line, +1) }, "+"),
            ]
          : [h("span", { class: "qty" }, line.quantity)];
        return h(
          "li",
          { class: `line${line.queued ? " queued" : ""}${line.gone ? " gone" : ""}`, dataset: { productId: line.product_id, key: line.key || "" } },
          h("span", { class: "name" }, line.name, attributes ? h("small", { class: "muted" }, attributes) : null),
          h("span", { class: "stepper" }, controls),
          h("span", { class: "amount" }, line.queued ? "queued" : money(line.subtotal, currency)),
          line.key && !line.gone ? h("button", { type: "button", class: "remove", "aria-label": `remove ${line.name}`, title: "remove", onclick: () => change({ type: "remove", key: line.key }) }, "×") : h("span"),
        );
      }),
    );
    byId("coupons").replaceChildren(
      ...coupons.map((coupon) =>
        h(
          "li",
          { class: `chip${coupon.queued ? " queued" : ""}${coupon.gone ? " gone" : ""}`, dataset: { code: coupon.code } },
          h("span", {}, coupon.code),
          coupon.discount !== null && !coupon.queued ? h("span", { class: "muted" }, money(-coupon.discount, currency)) : h("span", { class: "muted" }, "queued"),
          !coupon.gone && !coupon.queued ? h("button", { type: "button", class: "remove", "aria-label": `remove coupon ${coupon.code}`, onclick: () => change({ type: "remove_coupon", code: coupon.code }) }, "×") : null,
        ),
      ),
    );
    const packages = cart ? cart.shipping : [];
    byId("shipping").hidden = packages.length === 0;
    byId("rates").replaceChildren(
      ...packages.map((pack) =>
        h(
          "div",
          { class: "package" },
          packages.length > 1 ? h("div", { class: "muted" }, pack.name) : null,
          pack.rates.map((rate) =>
            h(
              "label",
              { class: "rate" },
              h("input", {
                type: "radio",
                name: `rate-${pack.id}`,
                value: rate.id,
                checked: chosen.get(String(pack.id)) === rate.id,
                onchange: () => change({ type: "shipping", rate_id: rate.id, package_id: pack.id, rate_name: rate.name }),
              }),
              h("span", { class: "rate-name" }, rate.name),
              h("span", { class: "rate-price" }, rate.price ? money(rate.price, currency) : "free"),
            ),
          ),
        ),
      ),
    );
    const totals = cart ? cart.totals : null;
    const rows = [];
    if (totals && (visible.length || totals.total)) {
      rows.push(["Subtotal", money(totals.subtotal, currency)]);
      if (totals.discount) rows.push(["Discount", money(-totals.discount, currency)]);
      if (totals.shipping !== null) rows.push(["Shipping", totals.shipping ? money(totals.shipping, currency) : "free"]);
      rows.push(["Tax", money(totals.tax, currency)]);
      rows.push(["Total", money(totals.total, currency)]);
    }
    const stale = state.queue.length > 0;
    byId("totals").classList.toggle("stale", stale);
    byId("totals").replaceChildren(...rows.map(([name, value]) => h("div", { class: name === "Total" ? "total" : "" }, h("dt", {}, name), h("dd", { id: `total-${name.toLowerCase()}` }, value))));
    if (stale && rows.length) byId("totals").append(h("div", { class: "muted note" }, "totals as last synced"));

    byId("queue-count").textContent = state.queue.length ? `${state.queue.length} queued` : "";
    byId("queue-panel").hidden = state.queue.length === 0;
    byId("queue").replaceChildren(...state.queue.map((op) => h("li", { dataset: { opId: op.op_id } }, describe(op))));
    byId("results-panel").hidden = state.results.length === 0;
    byId("results").replaceChildren(
      ...state.results.map((result) =>
        h(
          "li",
          { dataset: { opId: result.op_id }, class: `result ${result.status}` },
          h("span", { class: "badge" }, result.status.replace("_", " ")),
          h("span", { class: "label" }, result.label),
          h("code", { class: "op" }, result.op_id),
          result.error ? h("small", { class: "why" }, result.error.code) : null,
        ),
      ),
    );
    const merge = state.merge;
    byId("merge-panel").hidden = !merge;
    if (merge) {
      byId("merge").replaceChildren(
        ...[...merge.lines, ...merge.coupons].map((entry) =>
          h(
            "li",
            { class: `result ${entry.status}`, dataset: { productId: entry.product_id } },
            h("span", { class: "badge" }, entry.status),
            h("span", { class: "label" }, entry.product_id ? `${entry.name} × ${entry.quantity}` : `coupon “${entry.name}”`),
            h("span"),
            entry.error ? h("small", { class: "why" }, entry.error.code) : null,
          ),
        ),
      );
    }
  }

  function stepLine(line, delta) {
    const quantity = line.quantity + delta;
    change(quantity <= 0 ? { type: "remove", key: line.key } : { type: "set_quantity", key: line.key, quantity });
  }

  // --- start -----------------------------------------------------------------------------

  async function start() {
    byId("device-name").textContent = NAME;
    document.title = `${NAME} · cartsync demo`;
    document.body.dataset.device = NAME;
    byId("offline").addEventListener("change", (event) => setOnline(!event.target.checked));
    byId("refresh").addEventListener("click", () => revalidate());
    byId("coupon-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = byId("coupon-code");
      const code = input.value.trim().toLowerCase();
      if (!code) return;
      input.value = "";
      change({ type: "apply_coupon", code });
    });
    byId("new-guest").addEventListener("click", () => newGuest());
    let demo;
    try {
      demo = await session();
    } catch (error) {
      setStatus("no session");
      notice(String(error.message || error));
      return;
    }
    state.userToken = demo.user_token;
    state.userName = demo.user;
    state.token = GUEST ? demo.guest_token : demo.user_token;
    byId("device-owner").textContent = GUEST ? "not signed in" : demo.user;
    if (GUEST) {
      byId("offline-switch").hidden = true;
      const button = byId("sign-in");
      button.hidden = false;
      button.textContent = `Sign in as ${demo.user}`;
      button.addEventListener("click", () => signIn());
    }
    await Promise.all([loadProducts(), loadCart()]);
    openStream();
  }

  start();
})();
