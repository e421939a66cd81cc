// Vigie: the little JavaScript the pages use. Loaded with `defer` from
// /static/app.js (no inline scripts: the Content-Security-Policy forbids
// them). Pages work without it; it only adds conveniences. Data from the
// server is put in the page with textContent, never innerHTML.
"use strict";

/** The session's anti-CSRF token, for fetch() calls that change things. */
function vigieCsrf() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

/** POST JSON with the anti-CSRF header; resolves to {ok, status, body}. */
async function vigiePostJson(url, data) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": vigieCsrf() },
    body: JSON.stringify(data),
  });
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  return { ok: response.ok, status: response.status, body };
}

// Forms that ask for confirmation: <form data-confirm="message">.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// Period selector: selects with data-autosubmit submit their form on change.
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el instanceof HTMLSelectElement && el.dataset.autosubmit !== undefined && el.form) {
    el.form.submit();
  }
});
