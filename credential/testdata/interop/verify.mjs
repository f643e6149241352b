// Verifies SD-JWTs with the OpenWallet Foundation's SD-JWT implementation
// (@sd-jwt/core, @sd-jwt/crypto-nodejs), independent of eidgate's Go code.
// Input (stdin): {"cases":[{"name","token","issuer_jwk","nonce"?,"now"}]}
// Output (stdout): [{"name","ok","error"?,"header"?,"payload"?,"kb"?}]
import { SDJwtInstance } from '@sd-jwt/core';
import { ES256, digest } from '@sd-jwt/crypto-nodejs';

const input = JSON.parse(await new Promise((resolve) => {
  let s = '';
  process.stdin.on('data', (c) => { s += c; });
  process.stdin.on('end', () => resolve(s));
}));

const out = [];
for (const c of input.cases) {
  try {
    const sdjwt = new SDJwtInstance({
      hasher: digest,
      hashAlg: 'sha-256',
      verifier: await ES256.getVerifier(c.issuer_jwk),
      kbVerifier: async (data, sig, payload) => (await ES256.getVerifier(payload.cnf.jwk))(data, sig),
    });
    const opts = { currentDate: c.now, skewSeconds: 60 };
    if (c.nonce) opts.keyBindingNonce = c.nonce;
    const res = await sdjwt.verify(c.token, opts);
    out.push({ name: c.name, ok: true, header: res.header, payload: res.payload, kb: res.kb ? res.kb.payload : undefined });
  } catch (e) {
    out.push({ name: c.name, ok: false, error: String(e && e.message ? e.message : e) });
  }
}
process.stdout.write(JSON.stringify(out));
