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

// A refused form shown again (pages/echo.rs): the page opens on it, the
// field at fault focused (its aria-describedby names the message), else
// the message in view.
(function vigieFormError() {
  const message = document.querySelector("[data-form-error]");
  if (!message) return;
  const field = Array.from(document.querySelectorAll('[aria-invalid="true"][aria-describedby]'))
    .find((el) => el.getAttribute("aria-describedby").split(" ").includes(message.id));
  message.scrollIntoView({ block: "center" });
  if (field) field.focus({ preventScroll: true });
})();

// ---------------------------------------------------------------------------
// Watches (pages/watches.rs): live preview of the query being typed. The
// form carries data-preview (the preview API) and data-mentions (the base
// of mention links). Without JavaScript the server checks the query on save.
(function vigieWatchPreview() {
  const form = document.querySelector("form.watch-form[data-preview]");
  if (!form) return;
  const query = form.querySelector('textarea[name="query"]');
  const langs = form.querySelector('input[name="langs"]');
  const out = form.querySelector(".watch-preview");
  if (!query || !out) return;
  const fr = (document.documentElement.lang || "fr") === "fr";
  const t = (f, e) => (fr ? f : e);
  let timer = null;
  let sequence = 0;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // The line of the query holding the 1-based character `column`, and a
  // caret under it.
  function caret(text, column) {
    let remaining = Math.max(0, column - 1);
    for (const line of text.split("\n")) {
      const chars = Array.from(line);
      if (remaining <= chars.length) return [line, " ".repeat(remaining) + "^"];
      remaining -= chars.length + 1;
    }
    return [text, "^"];
  }

  function showError(body, text) {
    const box = el("div", "error-message query-error");
    box.setAttribute("role", "alert");
    const p = el("p");
    if (body && body.code === "invalid_query") p.append(el("strong", null, t("Requête invalide : ", "Invalid query: ")));
    let message = (body && body.message) || t("la prévisualisation a échoué", "the preview failed");
    if (body && Number.isInteger(body.column)) message += " (" + t("colonne", "column") + " " + body.column + ")";
    p.append(document.createTextNode(message));
    box.append(p);
    if (body && body.code === "invalid_query" && Number.isInteger(body.column)) {
      const [line, mark] = caret(text, body.column);
      const pre = el("pre", "query-caret");
      pre.append(el("code", null, line + "\n" + mark));
      box.append(pre);
    }
    out.replaceChildren(box);
  }

  function showMatches(body) {
    const matches = Array.isArray(body.matches) ? body.matches : [];
    const scanned = Number(body.scanned) || 0;
    const nf = new Intl.NumberFormat(fr ? "fr-FR" : "en-GB");
    let summary;
    if (matches.length === 0) {
      summary = t("Aucune des ", "None of the ") + nf.format(scanned) +
        t(" mentions examinées ne correspond.", " mentions examined matches.");
    } else {
      summary = nf.format(matches.length) + t(" mention(s) correspondent", " matching mention(s)") +
        (body.more ? t(" (et sans doute d'autres)", " (and probably more)") : "") +
        t(", sur ", ", out of ") + nf.format(scanned) + t(" examinées.", " examined.");
    }
    if (body.cut_short) {
      summary += " " + t("Examen limité aux mentions les plus récentes.", "Only the most recent mentions were examined.");
    }
    const nodes = [el("p", "muted", summary)];
    if (matches.length > 0) {
      const list = el("ul", "preview-list");
      for (const m of matches) {
        const li = el("li");
        const a = el("a", null, m.title || m.text || "—");
        a.href = form.dataset.mentions + String(Number(m.id));
        li.append(a);
        const meta = [m.site, m.published || null].filter(Boolean).join(" · ");
        if (meta) li.append(document.createTextNode(" "), el("span", "muted", meta));
        if (Array.isArray(m.matched_terms) && m.matched_terms.length > 0) {
          const terms = el("div", "muted");
          terms.append(document.createTextNode(t("Termes : ", "Terms: ")));
          m.matched_terms.forEach((term, i) => {
            if (i > 0) terms.append(document.createTextNode(", "));
            terms.append(el("code", null, term));
          });
          li.append(terms);
        }
        list.append(li);
      }
      nodes.push(list);
    }
    out.replaceChildren(...nodes);
  }

  async function run() {
    const text = query.value;
    const mine = ++sequence;
    if (!text.trim()) { out.replaceChildren(); return; }
    const codes = langs && langs.value ? langs.value.split(",").map((s) => s.trim()).filter(Boolean) : [];
    out.replaceChildren(el("p", "muted", t("Recherche dans les mentions enregistrées…", "Searching stored mentions…")));
    let result;
    try {
      result = await vigiePostJson(form.dataset.preview, { query: text, langs: codes });
    } catch (_) {
      if (mine === sequence) showError(null, text);
      return;
    }
    if (mine !== sequence) return; // a newer request is under way
    if (result.ok && result.body) showMatches(result.body);
    else showError(result.body, text);
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(run, 400);
  }
  query.addEventListener("input", later);
  if (langs) langs.addEventListener("input", later);
})();

// ---------------------------------------------------------------------------
// Inbox (pages/inbox.rs): a checkbox with data-select-all="NAME" checks or
// unchecks every checkbox named NAME of its form (the bulk actions), and
// shows whether all, some or none of them are checked.
(function vigieSelectAll() {
  function boxes(master) {
    const scope = master.closest("form") || document;
    return Array.from(scope.querySelectorAll('input[type="checkbox"]'))
      .filter((el) => el.name === master.dataset.selectAll);
  }
  document.addEventListener("change", (event) => {
    const el = event.target;
    if (!(el instanceof HTMLInputElement) || el.type !== "checkbox") return;
    if (el.dataset.selectAll) {
      for (const box of boxes(el)) box.checked = el.checked;
      el.indeterminate = false;
      return;
    }
    const scope = el.closest("form") || document;
    for (const master of scope.querySelectorAll('input[type="checkbox"][data-select-all]')) {
      if (master.dataset.selectAll !== el.name) continue;
      const all = boxes(master);
      const checked = all.filter((b) => b.checked).length;
      master.checked = checked === all.length && checked > 0;
      master.indeterminate = checked > 0 && checked < all.length;
    }
  });
})();

// The project switcher (<details class="projects">) closes with Escape, and
// the focus goes back to its summary.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const open = document.querySelector("details.projects[open]");
  if (!open) return;
  open.removeAttribute("open");
  const summary = open.querySelector("summary");
  if (summary) summary.focus();
});
