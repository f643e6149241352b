// Package mapping turns identity documents into the keyed, blinded index that
// maps a resident to an eID on chain, without a document number ever leaving
// the gateway.
//
// # Documents
//
// [Parse] validates and normalises one document number of a [DocType]:
//
//	cn-resident        PRC resident identity card: 18 characters, GB 11643-1999
//	                   check character (ISO 7064 MOD 11-2, 0-9 or X), real birth
//	                   date between 1900-01-01 and today, mainland province
//	                   prefix (11-15, 21-23, 31-37, 41-46, 50-54, 61-65). A
//	                   15-digit first-generation number is upgraded to 18: the
//	                   century "19" is inserted and the check character
//	                   computed; the normalised form is always the 18-character
//	                   number, so both spellings blind to the same index.
//	cn-passport        PRC passport: E + 8 digits, E + letter + 7 digits (no I
//	                   or O), or the legacy G + 8 digits.
//	passport           Foreign passport: ICAO 9303 document number (1-9 of A-Z,
//	                   0-9; MRZ filler "<" only as trailing padding) and its
//	                   issuing state. See "Passports" below.
//	hkmo-permit        Mainland Travel Permit for Hong Kong and Macao Residents:
//	                   H or M + 8 digits, optionally followed by the 2-digit
//	                   issue count ("H1234567801" or "H12345678(01)").
//	tw-permit          Mainland Travel Permit for Taiwan Residents: 8 digits,
//	                   optionally followed by the 2-digit issue count.
//	cn-hkmo-pass       Exit-Entry Permit for Travelling to and from Hong Kong and
//	                   Macao: C + 8 digits or C + letter + 7 digits (no I or O).
//	hkmotw-residence   Residence Permit for Hong Kong, Macao and Taiwan
//	                   Residents: 18 characters starting 810000, 820000 or
//	                   830000, GB 11643 check character, real birth date.
//	foreign-permanent  Foreign Permanent Resident ID Card, both formats:
//	                   2004/2017: 3-letter nationality (ISO 3166-1 alpha-3),
//	                   4-digit issuing region (2-digit province prefix + 2
//	                   digits), birth date YYMMDD, 1-digit sequence and a check
//	                   digit over the first 14 characters with ICAO 9303
//	                   weights 7-3-1 (A=10 … Z=35, modulo 10), e.g.
//	                   KAZ110090123105.
//	                   2023: 18 digits: 9, 2-digit issuing province, 3-digit
//	                   nationality (ISO 3166-1 numeric), birth date YYYYMMDD,
//	                   3-digit sequence, GB 11643 check character, e.g.
//	                   932682198501010017.
//	                   A holder who moves from the old to the new card gets a
//	                   new number: the two are different index entries and are
//	                   joined by a mapping merge, not by normalisation.
//
// Normalisation folds full-width forms (U+FF01-U+FF5E and the ideographic
// space U+3000) to ASCII, removes spaces and hyphens (ASCII and Unicode
// dashes) and upper-cases letters.
//
// The issue count of hkmo-permit and tw-permit is not part of the identity:
// a resident keeps the same 8-digit index across re-issued permits, so the
// normalised number (and therefore the blinded index) excludes it.
//
// # Passports
//
// The issuing state is [Input].Country: an ISO 3166-1 alpha-3 code or one of
// the ICAO 9303 specials (D for Germany, GBD, GBN, GBO, GBP, GBS, UNO, UNA,
// UNK, XXA, XXB, XXC, XXX, EUE, the international organisations XBA, XCC,
// XCE, XCO, XDC, XEC, XES, XIM, XMP, XOM, XPO) or RKS (Kosovo). DEU is folded
// to D, the code German passports carry, so both spellings blind alike. When
// Country is empty the number may carry it as a prefix: "USA:L898902C3".
// The MRZ check digit is verified when the number is given in its 10-character
// MRZ form, the 9-character field padded with "<" plus the check digit:
// "L898902C36" or "AB1234<<<7". Numbers of more than 9 characters (which ICAO
// continues in the optional data field) are not supported.
//
// # Masking
//
// A [Document] never shows its full number: String, every fmt verb, slog and
// encoding/json all give the masked form (for example
// cn-resident:1101**********002X). [Document.RevealNormalized] is the one
// deliberately named way to read the full normalised number. A rejection is
// a *routing.Error with code invalid_document: its field names the input at
// fault, its message never holds the number, and [ReasonOf] and [MaskedOf]
// read its stable [Reason] and the masked input.
//
// # Blinding
//
// A [Keyring] holds versioned 32-byte HMAC-SHA256 keys. [Keyring.Blind]
// computes the index of a document under the current version and
// [Keyring.BlindAll] under every version, newest first, so lookups resolve
// during a key rotation. [Keyring.AccountHash] hashes a department's local
// account id under a separate domain label. See [Keyring.Blind] for the exact
// encoding.
//
// # Service, import and rotation
//
// [Service] maps documents to eIDs on the ledger (KYC creation, added and
// removed documents, merges, deactivation, activation codes) and links
// departments' local accounts; it implements routing.SubjectMapper, and the
// gateway's API and console call it. It writes new mappings under every key
// version and looks them up under every version, newest first, caching
// found indexes only. Each mapped document is kept as a [StoredDocument]: masked for
// display, and with its normalised number sealed under a [SealingKey] so that
// [Service.Rotate] can blind it again under a new key version.
//
// [Importer] imports CSV or JSON lines files of documents in CreateEIDs
// batches; a job is keyed by the file's SHA-256 and resumes from its last
// committed row. docs/mapping.md describes the file format, the reject
// report, resume semantics and the rotation procedure.
package mapping
