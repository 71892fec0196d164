// wacast console: the few things plain HTML cannot do. Every page works without it.
"use strict";

// Live refresh: an element with data-refresh="URL" has its content replaced by the fragment
// at URL every data-interval milliseconds (2000 by default), while the tab is visible.
function startRefresh(element) {
  const url = element.dataset.refresh;
  const interval = Number(element.dataset.interval || 2000);
  async function tick() {
    if (document.visibilityState === "visible") {
      try {
        const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
        if (response.ok) {
          element.innerHTML = await response.text();
        }
      } catch (_) {
        // The next tick tries again; the page keeps its last numbers meanwhile.
      }
    }
    setTimeout(tick, interval);
  }
  setTimeout(tick, interval);
}

// Confirmation: a form with data-confirm="text" asks before it is sent.
function guardForm(form) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-refresh]").forEach(startRefresh);
  document.querySelectorAll("form[data-confirm]").forEach(guardForm);
});
