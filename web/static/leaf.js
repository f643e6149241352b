// The leaf of an access record, rebuilt in the browser from the audited
// fields the proof endpoint returns (routing.AccessRecord.LeafBytes): each
// field as a 4-byte big-endian length followed by its UTF-8 bytes, hashed
// as an RFC 6962 leaf, SHA-256(0x00 || bytes).
import { leafHash } from "./merkle.js";

export const LEAF_FORMAT = "eidgate-access-v1";

export function encodeLeafFields(fields) {
  if (!Array.isArray(fields) || fields.some((f) => typeof f !== "string")) {
    throw new Error("leaf fields must be a list of strings");
  }
  const enc = new TextEncoder();
  const parts = fields.map((f) => enc.encode(f));
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
  const view = new DataView(out.buffer);
  let off = 0;
  for (const p of parts) {
    view.setUint32(off, p.length, false);
    off += 4;
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export async function leafHashOfFields(fields) {
  return leafHash(encodeLeafFields(fields));
}
