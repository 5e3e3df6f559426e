// The demo page around the three devices: one session (a user token for both of the
// user's devices, a guest token for the third pane) and the panel of upstream calls.
"use strict";

(() => {
  const query = new URLSearchParams(location.search);
  const user = query.get("user");
  const suffix = user ? `?user=${encodeURIComponent(user)}` : "";

  const session = fetch(`/demo/session${suffix}`, { cache: "no-store" }).then(async (r) => {
    if (!r.ok) throw new Error(`GET /demo/session answered ${r.status}`);
    return r.json();
  });

  let timer = null;
  let running = false;
  let again = false;

  async function refreshStats() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      const response = await fetch("/demo/stats", { cache: "no-store" });
      if (response.ok) show(await response.json());
    } catch (_) {
      // the gateway stopped: the figures stay as they were
    } finally {
      running = false;
      if (again) {
        again = false;
        refreshStats();
      }
    }
  }

  function show(stats) {
    const set = (id, value) => {
      const node = document.getElementById(id);
      if (node) node.textContent = String(value);
    };
    set("stat-writes", stats.upstream_writes);
    set("stat-ops", stats.batch_operations);
    set("stat-batches", stats.batches);
    set("stat-largest", stats.largest_batch);
    set("stat-saved", Math.max(0, stats.batch_operations - stats.upstream_writes));
    set("stat-reads", stats.upstream_reads);
    set("stat-cached", stats.cached_reads);
  }

  // The devices tell the page after every call they make; the figures follow (debounced).
  function changed() {
    clearTimeout(timer);
    timer = setTimeout(refreshStats, 120);
  }

  window.cartsyncDemo = { session, changed };

  document.addEventListener("DOMContentLoaded", () => {
    for (const frame of document.querySelectorAll("iframe[data-src]")) {
      frame.src = frame.dataset.src + (user ? `&user=${encodeURIComponent(user)}` : "");
    }
    session
      .then((s) => {
        document.getElementById("user-name").textContent = s.user;
      })
      .catch((error) => {
        document.getElementById("user-name").textContent = String(error.message || error);
      });
    refreshStats();
  });
})();
