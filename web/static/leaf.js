// The leaf of an access record, rebuilt in the browser from the audited
// fields the proof endpoint returns (routing.AccessRecord.LeafBytes): each
// field as a 4-byte big-endian length followed by its UTF-8 bytes, hashed
// as an RFC 6962 leaf, SHA-256(0x00 || bytes).
import { leafHash } from "./merkle.js";

export const LEAF_FORMAT = "eidgate-access-v1";
// A break-glass access's leaf adds the legal basis and the end of its seal
// (routing.LeafFormatBreakGlass).
export const LEAF_FORMAT_BREAK_GLASS = "eidgate-access-bg-v1";

// sameFormat reports whether fields are a leaf of the shown record's kind:
// 14 fields, or 16 for a break-glass access naming the legal basis shown.
export function sameFormat(fields, legalBasis) {
  if (legalBasis) {
    return fields.length === 16 && fields[0] === LEAF_FORMAT_BREAK_GLASS && fields[14] === legalBasis;
  }
  return fields.length === 14 && fields[0] === LEAF_FORMAT;
}

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
