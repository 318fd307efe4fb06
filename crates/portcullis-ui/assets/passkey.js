// Passkeys on the hosted pages: the only script they have, for the browser's WebAuthn API
// (which forms cannot reach). Everything else works without it; the passkey controls stay
// hidden where it does not run.
'use strict';

const enc = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
  .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const dec = (s) => Uint8Array.from(
  atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)),
  (c) => c.charCodeAt(0));

function creationOptions(o) {
  const pk = o.publicKey;
  pk.challenge = dec(pk.challenge);
  pk.user.id = dec(pk.user.id);
  (pk.excludeCredentials || []).forEach((c) => { c.id = dec(c.id); });
  return { publicKey: pk };
}

function requestOptions(o) {
  const pk = o.publicKey;
  pk.challenge = dec(pk.challenge);
  (pk.allowCredentials || []).forEach((c) => { c.id = dec(c.id); });
  return { publicKey: pk };
}

function credentialJSON(c) {
  const r = c.response;
  const out = {
    id: c.id, rawId: enc(c.rawId), type: c.type,
    extensions: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
    response: { clientDataJSON: enc(r.clientDataJSON) },
  };
  if (r.attestationObject) out.response.attestationObject = enc(r.attestationObject);
  if (r.authenticatorData) {
    out.response.authenticatorData = enc(r.authenticatorData);
    out.response.signature = enc(r.signature);
    out.response.userHandle = r.userHandle ? enc(r.userHandle) : null;
  }
  return out;
}

async function post(url, body) {
  const json = !(body instanceof URLSearchParams);
  const res = await fetch(url, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded' },
    body: json ? JSON.stringify(body) : body,
  });
  const answer = await res.json().catch(() => ({ error: 'The server did not answer.' }));
  if (!res.ok) throw new Error(answer.error || 'That did not work.');
  return answer;
}

function fields(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function say(form, message) {
  const el = form.querySelector('.passkey-error');
  if (el) { el.textContent = message; el.hidden = false; }
}

if (window.PublicKeyCredential) {
  document.querySelectorAll('[data-passkey]').forEach((form) => {
    form.hidden = false;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const kind = form.dataset.passkey;
      const data = fields(form);
      try {
        if (kind === 'register') {
          const start = await post('/ui/account/passkeys/start', new URLSearchParams(data));
          const cred = await navigator.credentials.create(creationOptions(start.options));
          await post('/ui/account/passkeys/finish', {
            csrf: data.csrf, name: data.name, challenge_id: start.challenge_id,
            credential: credentialJSON(cred),
          });
          window.location.assign('/ui/account');
        } else {
          const start = await post('/ui/passkey/start', new URLSearchParams({ csrf: data.csrf, org: data.org || '' }));
          const cred = await navigator.credentials.get(requestOptions(start.options));
          const assertion = { challenge_id: start.challenge_id, credential: credentialJSON(cred) };
          if (kind === 'second') {
            form.querySelector('input[name=passkey]').value = JSON.stringify(assertion);
            HTMLFormElement.prototype.submit.call(form);
          } else {
            const done = await post('/ui/passkey/finish', Object.assign(data, assertion));
            window.location.assign(done.location);
          }
        }
      } catch (e) {
        say(form, e.message || String(e));
      }
    });
  });
}
