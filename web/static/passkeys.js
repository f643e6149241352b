// Passkeys in the browser: sign-in with a discoverable passkey, registering
// a passkey (also right after activation), and signing consent decisions.
// Each ceremony asks the gateway for options, lets the browser talk to the
// authenticator (navigator.credentials), and sends the answer back as JSON.
// Nothing here decides anything: the gateway and the ledger check every
// answer. Pages without this script keep working with passwords.

const b64url = {
  encode(buf) {
    const bytes = new Uint8Array(buf);
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
  decode(str) {
    let s = String(str).replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  },
};

export function supported() {
  return Boolean(globalThis.PublicKeyCredential && navigator.credentials && globalThis.isSecureContext);
}

function creationOptions(o) {
  const pk = { ...o.publicKey };
  pk.challenge = b64url.decode(pk.challenge);
  pk.user = { ...pk.user, id: b64url.decode(pk.user.id) };
  if (pk.excludeCredentials) {
    pk.excludeCredentials = pk.excludeCredentials.map((c) => ({ ...c, id: b64url.decode(c.id) }));
  }
  return pk;
}

function requestOptions(o) {
  const pk = { ...o.publicKey };
  pk.challenge = b64url.decode(pk.challenge);
  if (pk.allowCredentials) {
    pk.allowCredentials = pk.allowCredentials.map((c) => ({ ...c, id: b64url.decode(c.id) }));
  }
  return pk;
}

// credentialJSON renders a PublicKeyCredential as its toJSON() does, for
// browsers that lack toJSON().
function credentialJSON(cred) {
  if (typeof cred.toJSON === "function") return cred.toJSON();
  const r = cred.response;
  const out = {
    id: cred.id,
    rawId: b64url.encode(cred.rawId),
    type: cred.type,
    clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    response: { clientDataJSON: b64url.encode(r.clientDataJSON) },
  };
  if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
  if (r.attestationObject) {
    out.response.attestationObject = b64url.encode(r.attestationObject);
    if (r.getTransports) out.response.transports = r.getTransports();
  } else {
    out.response.authenticatorData = b64url.encode(r.authenticatorData);
    out.response.signature = b64url.encode(r.signature);
    if (r.userHandle) out.response.userHandle = b64url.encode(r.userHandle);
  }
  return out;
}

async function post(path, { body, csrf } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const res = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error((data.error && data.error.message) || "HTTP " + res.status);
    err.code = data.error && data.error.code;
    throw err;
  }
  return data;
}

function messages() {
  return document.getElementById("passkey-messages");
}

function message(key) {
  const box = messages();
  return (box && box.dataset[key]) || "";
}

// explain turns a failure into words of the page's language: a cancelled
// or timed-out browser prompt, a gateway refusal by its code, or else the
// gateway's own message.
function explain(err) {
  if (err && (err.name === "NotAllowedError" || err.name === "AbortError")) return message("cancelled");
  const box = messages();
  if (err && err.code && box) {
    const known = box.querySelector('span[data-code="' + CSS.escape(err.code) + '"]');
    if (known) return known.textContent;
  }
  const detail = err && err.code ? " (" + err.code + ")" : "";
  return message("failed") + detail;
}

function statusIn(root) {
  const out = root.querySelector("[data-passkey-status]");
  return (text, bad) => {
    if (!out) return;
    out.textContent = text;
    out.classList.toggle("status-bad", Boolean(bad));
  };
}

function csrfOf(root) {
  const field = (root && root.querySelector('input[name="csrf"]')) || document.querySelector('input[name="csrf"]');
  return field ? field.value : "";
}

// register creates a passkey for the signed-in account at api (/v1/me or
// /v1/admin) and stores it.
async function register(api, csrf) {
  const opts = await post(api + "/passkeys/options", { csrf });
  const cred = await navigator.credentials.create({ publicKey: creationOptions(opts) });
  const platform = (navigator.userAgentData && navigator.userAgentData.platform) || "passkey";
  await post(api + "/passkeys", { body: { credential: credentialJSON(cred), name: platform.slice(0, 64) }, csrf });
}

// run disables the button while a ceremony runs and reports its outcome.
async function run(button, root, work) {
  const show = statusIn(root);
  button.disabled = true;
  show(message("working"));
  try {
    await work();
  } catch (err) {
    show(explain(err), true);
    button.disabled = false;
  }
}

function setupSignIn() {
  for (const button of document.querySelectorAll("button[data-passkey-login]")) {
    const root = button.closest("section") || document;
    button.addEventListener("click", () =>
      run(button, root, async () => {
        const base = button.dataset.passkeyLogin;
        const opts = await post(base + "/login/passkey/options");
        const cred = await navigator.credentials.get({ publicKey: requestOptions(opts) });
        await post(base + "/login/passkey", { body: { credential: credentialJSON(cred) } });
        location.assign(button.dataset.next);
      }),
    );
  }
}

function setupRegister() {
  for (const button of document.querySelectorAll("button[data-passkey-register]")) {
    const root = button.closest("section") || document;
    button.hidden = false;
    button.addEventListener("click", () =>
      run(button, root, async () => {
        await register(button.dataset.passkeyRegister, csrfOf(document));
        location.assign(button.dataset.done);
      }),
    );
  }
}

// Activation without a password: the code opens a session, in which the
// new passkey is registered at once.
function setupActivation() {
  const button = document.querySelector("button[data-passkey-activate]");
  if (!button) return;
  const form = button.closest("form");
  const root = button.closest(".passkey-activate");
  button.addEventListener("click", () =>
    run(button, root, async () => {
      const value = (name) => (form.elements[name] ? String(form.elements[name].value).trim() : "");
      const document_ = { type: value("type"), number: value("number") };
      if (value("country")) document_.country = value("country");
      const session = await post("/v1/me/activate", { body: { document: document_, code: value("code") } });
      await register("/v1/me", session.csrf_token);
      location.assign("/portal?done=activated");
    }),
  );
}

// signDecision grants or revokes the consent (or, with data-sign-base,
// revokes the standing rule) of a confirmed form with the resident's
// passkey; on failure the dialog stays open with the reason.
export async function signDecision(form, dialog) {
  const confirm = dialog.querySelector("button[data-dialog=confirm]");
  const show = statusIn(dialog);
  confirm.disabled = true;
  show(message("signing"));
  try {
    // A guardian signs for a ward under /v1/me/wards/{ward} (data-sign-api).
    const api = form.dataset.signApi;
    const base = api
      ? api + "/consents/" + encodeURIComponent(form.dataset.consent) + "/" + form.dataset.sign
      : form.dataset.signBase || "/v1/me/consents/" + encodeURIComponent(form.dataset.consent) + "/" + form.dataset.sign;
    const csrf = csrfOf(form);
    const challenge = await post(base + "/options", { csrf });
    const cred = await navigator.credentials.get({ publicKey: requestOptions(challenge.options) });
    await post(base, { body: { credential: credentialJSON(cred) }, csrf });
    location.assign(form.dataset.done);
  } catch (err) {
    show(explain(err), true);
    confirm.disabled = false;
  }
}

// ruleDraft reads the confirmed terms of a standing rule from its form.
function ruleDraft(form) {
  const all = (name) => Array.from(form.querySelectorAll('input[name="' + name + '"]'), (el) => el.value);
  const one = (name) => (form.elements[name] ? String(form.elements[name].value).trim() : "");
  const draft = {
    departments: all("departments"),
    roles: all("roles"),
    data_types: all("data_types"),
    purpose_code: one("purpose_code"),
    valid_until: one("valid_until"),
  };
  if (one("note")) draft.note = one("note");
  if (one("max_uses")) draft.max_uses = Number(one("max_uses"));
  return draft;
}

// setupRuleSigning signs a confirmed standing rule with the resident's
// passkey: the gateway answers the statement of exactly these terms and
// records them once the passkey has signed it.
function setupRuleSigning() {
  for (const form of document.querySelectorAll("form[data-sign-rule]")) {
    const button = form.querySelector('button[type="submit"]');
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run(button, form.closest(".card") || form, async () => {
        const csrf = csrfOf(form);
        const challenge = await post("/v1/me/rules/options", { body: ruleDraft(form), csrf });
        const cred = await navigator.credentials.get({ publicKey: requestOptions(challenge.options) });
        await post("/v1/me/rules/signed", { body: { credential: credentialJSON(cred) }, csrf });
        location.assign(form.dataset.done);
      });
    });
  }
}

export function setupPasskeys() {
  if (!supported()) {
    for (const el of document.querySelectorAll("[data-passkey-unsupported]")) el.hidden = false;
    return;
  }
  for (const el of document.querySelectorAll("[data-passkey-only]")) el.hidden = false;
  setupSignIn();
  setupRegister();
  setupActivation();
  setupRuleSigning();
}
