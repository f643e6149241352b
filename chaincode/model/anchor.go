package model

import "fmt"

// ConsentUse is how many accesses of an anchored batch used one consent.
type ConsentUse struct {
	ConsentID string `json:"consent_id"`
	Uses      uint64 `json:"uses"`
}

// AccessAnchor commits a batch of access records to the ledger: the Merkle
// root over the records, their count and sequence range, and the consent
// uses they consumed.
type AccessAnchor struct {
	BatchID     string       `json:"batch_id"`
	MerkleRoot  string       `json:"merkle_root"` // 64 lowercase hex
	Count       uint64       `json:"count"`
	FirstSeq    uint64       `json:"first_seq"`
	LastSeq     uint64       `json:"last_seq"`
	ConsentUses []ConsentUse `json:"consent_uses,omitempty" metadata:",optional"`
	AnchoredAt  string       `json:"anchored_at,omitempty" metadata:",optional"`
	TxID        string       `json:"tx_id,omitempty" metadata:",optional"`
	Submitter   string       `json:"submitter,omitempty" metadata:",optional"`
	// Kind is "" for access records and "audit" for officials' audit
	// records, which use no consents.
	Kind string `json:"kind,omitempty" metadata:",optional"`
	// BreakGlass lists the access records of the batch that were resolved
	// without consent under a statutory purpose, so such accesses are
	// countable on the ledger itself.
	BreakGlass []string `json:"break_glass,omitempty" metadata:",optional"`
}

// AnchorKindAudit marks an anchor of officials' audit records.
const AnchorKindAudit = "audit"

// Validate checks the fields the anchorer supplies. The sequence range must
// hold Count records: Count ≤ LastSeq − FirstSeq + 1 (a range may have gaps
// where records of other replicas sit).
func (a AccessAnchor) Validate() error {
	if !ValidBatchID(a.BatchID) {
		return Invalid("batch_id must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
	}
	if !ValidHex64(a.MerkleRoot) {
		return Invalid("merkle_root must be 64 lowercase hex digits")
	}
	if a.Count == 0 {
		return Invalid("count must be at least 1")
	}
	if a.LastSeq < a.FirstSeq {
		return Invalid("last_seq must not be below first_seq")
	}
	if span := a.LastSeq - a.FirstSeq; span != ^uint64(0) && a.Count > span+1 {
		return Invalid("count %d does not fit the sequence range %d–%d", a.Count, a.FirstSeq, a.LastSeq)
	}
	if a.Kind != "" && a.Kind != AnchorKindAudit {
		return Invalid("kind must be empty (access records) or audit")
	}
	if a.Kind == AnchorKindAudit && (len(a.ConsentUses) > 0 || len(a.BreakGlass) > 0) {
		return Invalid("an audit anchor carries no consent uses or break-glass accesses")
	}
	if uint64(len(a.BreakGlass)) > a.Count {
		return Invalid("break_glass lists more accesses than count")
	}
	bg := make(map[string]bool, len(a.BreakGlass))
	for i, id := range a.BreakGlass {
		if !ValidBatchID(id) || bg[id] {
			return Invalid("break_glass[%d] is not a record id or is listed twice", i)
		}
		bg[id] = true
	}
	if len(a.ConsentUses) > MaxAnchorConsents {
		return Invalid("consent_uses has more than %d entries", MaxAnchorConsents)
	}
	var total uint64
	seen := make(map[string]bool, len(a.ConsentUses))
	for i, u := range a.ConsentUses {
		field := fmt.Sprintf("consent_uses[%d]", i)
		if !ValidUseTarget(u.ConsentID) {
			return Invalid("%s.consent_id is not a consent or standing rule id", field)
		}
		if u.Uses == 0 {
			return Invalid("%s.uses must be at least 1", field)
		}
		if seen[u.ConsentID] {
			return Invalid("%s.consent_id %s is listed twice", field, u.ConsentID)
		}
		seen[u.ConsentID] = true
		total += u.Uses
		if total > a.Count || total < u.Uses {
			return Invalid("consent_uses add up to more than count")
		}
	}
	return nil
}

// SameContent reports whether b anchors the same batch content as a (the
// fields the anchorer supplies; not when or by whom it was anchored).
func (a AccessAnchor) SameContent(b AccessAnchor) bool {
	if a.BatchID != b.BatchID || a.MerkleRoot != b.MerkleRoot || a.Count != b.Count ||
		a.FirstSeq != b.FirstSeq || a.LastSeq != b.LastSeq || len(a.ConsentUses) != len(b.ConsentUses) ||
		a.Kind != b.Kind || len(a.BreakGlass) != len(b.BreakGlass) {
		return false
	}
	for i := range a.BreakGlass {
		if a.BreakGlass[i] != b.BreakGlass[i] {
			return false
		}
	}
	for i := range a.ConsentUses {
		if a.ConsentUses[i] != b.ConsentUses[i] {
			return false
		}
	}
	return true
}
