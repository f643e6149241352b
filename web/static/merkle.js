// Reference verifier for eidgate inclusion proofs, for browsers (WebCrypto)
// and any runtime with globalThis.crypto.subtle. No dependencies.
//
// It is the same algorithm as Verify in routing/merkle/merkle.go: RFC 6962
// hashing (leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right))
// and the inclusion verification of RFC 9162 §2.1.3.2. Keep the two in step.
//
// Proof document:
//   {"leaf_index": 3, "tree_size": 7, "leaf_hash": "<64 hex>",
//    "audit_path": ["<64 hex>", ...], "root": "<64 hex>"}
//
// Index arithmetic uses Math.floor and % instead of bit operators, which
// JavaScript truncates to 32 bits; integers stay exact up to 2^53 - 1, the
// largest tree size the Go decoder accepts.

const HEX64 = /^[0-9a-f]{64}$/;

function hexToBytes(hex) {
  if (typeof hex !== "string" || !HEX64.test(hex)) {
    throw new Error("a hash is 64 lowercase hex digits");
  }
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = parseInt(hex.substr(2 * i, 2), 16);
  }
  return out;
}

export function bytesToHex(bytes) {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

async function sha256(bytes) {
  return new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", bytes));
}

// leafHash returns SHA-256(0x00 || data) as lowercase hex.
export async function leafHash(data) {
  const buf = new Uint8Array(1 + data.length);
  buf[0] = 0x00;
  buf.set(data, 1);
  return bytesToHex(await sha256(buf));
}

async function nodeHash(left, right) {
  const buf = new Uint8Array(65);
  buf[0] = 0x01;
  buf.set(left, 1);
  buf.set(right, 33);
  return sha256(buf);
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

// verifyInclusion resolves to true when proof is well formed, valid, and
// matches the anchor read from the chain: anchoredRoot (hex) and anchoredSize
// (its record count). An audit path alone does not pin the tree size, the
// anchored count does. Malformed input resolves to false.
export async function verifyInclusion(proof, anchoredRoot, anchoredSize) {
  let root, leaf, path;
  try {
    if (proof === null || typeof proof !== "object") return false;
    const index = proof.leaf_index;
    const size = proof.tree_size;
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size)) return false;
    if (index < 0 || index >= size) return false;
    if (!Array.isArray(proof.audit_path) || proof.audit_path.length > 64) return false;
    if (proof.root !== anchoredRoot || size !== anchoredSize) return false;
    root = hexToBytes(anchoredRoot);
    leaf = hexToBytes(proof.leaf_hash);
    path = proof.audit_path.map(hexToBytes);

    // RFC 9162 §2.1.3.2
    let fn = index;
    let sn = size - 1;
    let r = leaf;
    for (const p of path) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 && equalBytes(r, root);
  } catch (e) {
    return false;
  }
}
