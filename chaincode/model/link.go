package model

// AccountLink ties an eID to a department's local account. The department
// keeps its account; the ledger holds only a keyed hash of its id, computed
// by the gateway.
type AccountLink struct {
	EID         string `json:"eid"`
	Department  string `json:"department"`
	AccountHash string `json:"account_hash"` // 64 lowercase hex
	LinkedAt    string `json:"linked_at"`
	TxID        string `json:"tx_id"`
}
