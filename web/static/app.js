// Enhancements only: every page works without this script. It adds
//   1. confirmation dialogs for forms marked data-confirm (a form marked
//      data-sign is then signed with the resident's passkey),
//   2. live progress on a bulk import's page,
//   3. the in-page check of an access record's Merkle inclusion proof,
//   4. the public verifier opened on a presentation's link.
//   5. passkeys (passkeys.js),
//   6. copying a secret shown once, and printing the activation slip.
import { verifyInclusion } from "./merkle.js";
import { leafHashOfFields, sameFormat } from "./leaf.js";
import { setupPasskeys, signDecision, supported as passkeysSupported } from "./passkeys.js";

function format(message, value) {
  return String(message).replace(/%[ds]/, String(value));
}

// 1. Confirmation dialogs. The dialog (server-rendered, closed) states
// exactly what the form will do; confirming submits the form with
// confirmed=yes, cancelling returns focus to the button that opened it.
function setupConfirmations() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    const dialog = document.getElementById(form.dataset.confirm);
    if (!dialog || typeof dialog.showModal !== "function") continue;
    let opener = null;
    form.addEventListener("submit", (ev) => {
      if (form.dataset.confirmed === "yes") return;
      ev.preventDefault();
      opener = ev.submitter || document.activeElement;
      dialog.showModal();
    });
    dialog.addEventListener("click", (ev) => {
      const button = ev.target.closest("button[data-dialog]");
      if (!button) return;
      if (button.dataset.dialog === "confirm" && form.dataset.sign && passkeysSupported()) {
        signDecision(form, dialog);
      } else if (button.dataset.dialog === "confirm") {
        form.dataset.confirmed = "yes";
        const field = form.querySelector('input[name="confirmed"]');
        if (field) field.value = "yes";
        dialog.close();
        form.submit();
      } else {
        dialog.close();
      }
    });
    dialog.addEventListener("close", () => {
      if (form.dataset.confirmed !== "yes" && opener) opener.focus();
    });
  }
}

// formatTime shows a time the way the server's pages do: in the page's
// language and the gateway's time zone.
function formatTime(iso, tz) {
  const lang = document.documentElement.lang;
  const opts = { dateStyle: "medium", timeStyle: "medium" };
  try {
    return new Intl.DateTimeFormat(lang, { ...opts, timeZone: tz }).format(new Date(iso));
  } catch (err) {
    return new Intl.DateTimeFormat(lang, opts).format(new Date(iso));
  }
}

// 2. Live import progress: poll the job until it has finished.
function setupImportProgress() {
  const box = document.getElementById("import-progress");
  if (!box || box.dataset.finished === "yes") return;
  const labels = document.getElementById("import-status-labels")?.dataset ?? {};
  const el = (id) => document.getElementById(id);
  el("imp-refresh").hidden = true;
  const set = (id, value) => {
    const node = el(id);
    const text = String(value);
    if (node && node.textContent !== text) node.textContent = text;
  };
  const url = "/v1/admin/imports/" + encodeURIComponent(box.dataset.job);
  let failures = 0;
  const tick = async () => {
    let job;
    try {
      const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!res.ok) throw new Error("HTTP " + res.status);
      job = await res.json();
      failures = 0;
    } catch (err) {
      failures++;
      el("imp-refresh").hidden = false;
      setTimeout(tick, Math.min(30000, 1000 * 2 ** failures));
      return;
    }
    const bar = el("imp-bar");
    if (job.total > 0) {
      bar.max = job.total;
      bar.value = job.done;
      set("imp-total", job.total);
      el("imp-total").hidden = false;
    }
    bar.textContent = String(job.done);
    set("imp-done", job.done);
    set("imp-rate", Math.round(job.rows_per_second || 0));
    set("imp-created", job.created);
    set("imp-existing", job.existing);
    set("imp-rejected", job.rejected);
    set("imp-status", labels[job.status] || job.status);
    if (job.error) {
      set("imp-error", job.error);
      el("imp-error").hidden = false;
    }
    if (job.finished_at) {
      box.dataset.finished = "yes";
      set("imp-finished", formatTime(job.finished_at, box.dataset.tz));
      el("imp-rejects").hidden = false;
      return;
    }
    setTimeout(tick, 500);
  };
  tick();
}

// 3. Merkle proof check. The leaf is rebuilt here from the record's
// audited fields, compared with what the row shows, then walked up the
// audit path to the anchor root the gateway read from the ledger.
async function verifyAccess(button, messages) {
  const out = document.getElementById(button.dataset.result);
  const show = (text, cls) => {
    out.textContent = text;
    out.className = "verify-result" + (cls ? " " + cls : "");
  };
  if (!globalThis.crypto || !globalThis.crypto.subtle) {
    show(messages.unsupported, "bad");
    return;
  }
  button.disabled = true;
  show(messages.busy, "");
  try {
    const id = button.dataset.access;
    const res = await fetch("/v1/me/access/" + encodeURIComponent(id) + "/proof", {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!res.ok) throw new Error("HTTP " + res.status);
    const p = await res.json();
    const f = p.leaf_fields;
    const shown = button.dataset;
    const sameRecord = Array.isArray(f) && sameFormat(f, shown.legalBasis) && f[1] === id &&
      f[3] === shown.requester && f[4] === shown.official && f[7] === shown.dataType &&
      f[8] === shown.purpose && f[9] === shown.consent && f[10] === shown.policy && f[11] === shown.outcome;
    const leaf = await leafHashOfFields(f);
    if (!sameRecord || !p.proof || leaf !== p.proof.leaf_hash) {
      show(messages.leaf, "bad");
      return;
    }
    const ok = await verifyInclusion(p.proof, p.anchor && p.anchor.merkle_root, p.anchor && p.anchor.count);
    if (ok) {
      show(format(messages.ok, p.block), "ok");
    } else {
      show(messages.fail, "bad");
    }
  } catch (err) {
    show(messages.error, "bad");
  } finally {
    button.disabled = false;
  }
}

function setupProofs() {
  const messages = document.getElementById("verify-messages")?.dataset;
  if (!messages) return;
  for (const button of document.querySelectorAll("button.verify[data-access]")) {
    button.hidden = false;
    button.addEventListener("click", () => verifyAccess(button, messages));
  }
}

// A form that came back with errors: move focus to the summary, so a
// screen reader announces it and keyboard users start from there.
function focusErrors() {
  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();
}

// 4. A presentation's link is /portal/verify#t=<presentation>: the token
// travels in the fragment, which the browser never sends, so the page
// puts it in the form and submits it (the check itself is the server's).
function setupVerifyLink() {
  const form = document.getElementById("verify-form");
  const field = document.getElementById("f-token");
  if (!form || !field || !location.hash.startsWith("#t=")) return;
  const token = decodeURIComponent(location.hash.slice(3));
  history.replaceState(null, "", location.pathname);
  if (!/^ey[A-Za-z0-9_.~-]+$/.test(token)) return;
  field.value = token;
  form.submit();
}

// 6. A secret shown once: copy it to the clipboard; print the activation
// slip. The buttons are hidden until this script can run them.
function setupSecretActions() {
  const status = document.querySelector(".copy-status");
  for (const button of document.querySelectorAll("button[data-copy]")) {
    if (!navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      const value = document.getElementById(button.dataset.copy)?.textContent ?? "";
      try {
        await navigator.clipboard.writeText(value.trim());
        if (status) status.textContent = button.dataset.copied;
      } catch (err) {
        if (status) status.textContent = String(err);
      }
    });
  }
  for (const button of document.querySelectorAll("button[data-print]")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }
}

setupConfirmations();
setupSecretActions();
setupImportProgress();
setupProofs();
setupVerifyLink();
setupPasskeys();
focusErrors();
