package mapping

import (
	"context"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
)

// Ledger is the part of the ledger client the mapping service uses. The
// methods have the signatures of ledger.Client's, which implements it.
// Errors are *routing.Error values (as ledger.Client returns them) so
// routing.KindOf classifies them; a refusal of the contract is invalid,
// not_found, forbidden or conflict, an outage ledger_unavailable.
type Ledger interface {
	CreateEID(ctx context.Context, indexes []model.BlindedIndex) (*model.Identity, error)
	CreateEIDs(ctx context.Context, items []model.EIDRequest) ([]model.EIDOutcome, error)
	AddDocumentIndex(ctx context.Context, eid string, idx model.BlindedIndex) (*model.Identity, error)
	RemoveDocumentIndex(ctx context.Context, eid string, idx model.BlindedIndex) (*model.Identity, error)
	MergeEID(ctx context.Context, from, into, reason string) (*model.Identity, error)
	DeactivateEID(ctx context.Context, eid, reason string) (*model.Identity, error)
	GetEID(ctx context.Context, eid string) (*model.Identity, error)
	LookupIndex(ctx context.Context, idx model.BlindedIndex) (string, error)
	LinkAccount(ctx context.Context, eid, department, accountHash string) (*model.AccountLink, error)
	UnlinkAccount(ctx context.Context, eid, department string) error
	ListLinks(ctx context.Context, eid string) ([]model.AccountLink, error)
	LookupAccount(ctx context.Context, department, accountHash string) (string, error)
}

// ActivationIssuer issues the one-time code a resident activates their
// portal account with. The code is shown once, to the officer at the KYC
// counter; a new code replaces any earlier one.
type ActivationIssuer interface {
	CreateActivation(ctx context.Context, eid string) (code string, err error)
}

// StoredDocument is the gateway's own record of one mapped document. It
// holds no readable number: Masked is for display and Sealed is the
// normalised number under the sealing key (AES-256-GCM), kept so that a key
// rotation can blind it again.
//
// A SQL table for it needs: Ref primary key; a unique index on
// (KeyVersion, BlindValue); an index on EID; Sealed as bytes.
type StoredDocument struct {
	Ref         string // opaque random id, never derived from the number
	EID         string
	Type        string
	Country     string // passports' issuing state, else empty
	Masked      string // the masked number, e.g. 1101**********002X
	KeyVersion  string // the newest key version the ledger holds the index under
	BlindValue  string // the index value under KeyVersion (64 lowercase hex)
	Sealed      []byte
	ExternalRef string // the reference an import file gave the row, if any
	AddedBy     string // the officer, or "import:<job id>"
	AddedAt     time.Time
}

// View is the document as it may be shown.
func (sd *StoredDocument) View() MaskedDocument {
	return MaskedDocument{
		Type: sd.Type, Country: sd.Country, Masked: sd.Masked,
		KeyVersion: sd.KeyVersion, Ref: sd.Ref, AddedAt: sd.AddedAt,
	}
}

// Index returns the stored document's blinded index.
func (sd *StoredDocument) Index() Index {
	return Index{KeyVersion: sd.KeyVersion, Value: sd.BlindValue}
}

// IndexUpdate moves a stored document to the index under a newer key
// version (a key rotation).
type IndexUpdate struct {
	Ref        string
	KeyVersion string
	BlindValue string
}

// DocumentStore keeps the stored documents. Every method is one database
// transaction; implementations must be safe for concurrent use.
type DocumentStore interface {
	// PutDocuments inserts docs in one transaction. A document whose
	// (KeyVersion, BlindValue) is already stored is skipped, not an error
	// (INSERT … ON CONFLICT DO NOTHING, or INSERT OR IGNORE on SQLite), so
	// a resumed import may repeat a batch. Refs must be new (Service makes
	// them of a time prefix and 80 random bits).
	PutDocuments(ctx context.Context, docs []StoredDocument) error
	// Document returns the mapped document with ref; one that is missing
	// or removed is a *routing.Error of kind not_found (code
	// document_not_found).
	Document(ctx context.Context, ref string) (*StoredDocument, error)
	// DocumentsOf returns the documents of an eID, oldest first (AddedAt,
	// then Ref).
	DocumentsOf(ctx context.Context, eid string) ([]StoredDocument, error)
	// RemoveDocument unmaps the document with ref (a store may keep the
	// row as history; the document's index may then be mapped again).
	// Removing one that is missing or removed already is not an error, so
	// a removal that failed half-way, or raced another, can finish.
	RemoveDocument(ctx context.Context, ref string) error
	// MoveDocuments re-points every document of eID from to eID into (a
	// merge).
	MoveDocuments(ctx context.Context, from, into string) error
	// DocumentsByIndex returns the stored documents whose (KeyVersion,
	// BlindValue) is one of indexes, in any order.
	DocumentsByIndex(ctx context.Context, indexes []Index) ([]StoredDocument, error)
	// DocumentsNotAt returns up to limit documents whose KeyVersion is not
	// keyVersion and whose Ref is greater than afterRef, in Ref order (a
	// key rotation pages through them).
	DocumentsNotAt(ctx context.Context, keyVersion, afterRef string, limit int) ([]StoredDocument, error)
	// SetIndexes applies updates in one transaction.
	SetIndexes(ctx context.Context, updates []IndexUpdate) error
}

// ImportReject is one rejected row of an import file. It never holds the
// full number.
type ImportReject struct {
	Row     int64  // the line of the file the row starts on (1 is the first line)
	Masked  string // the masked number, empty when the row could not be read
	Reason  string // stable code: a document Reason, or syntax, columns, ref, duplicate, conflict
	Message string
}

// ImportJobStore keeps import jobs and their rejected rows. A job's ID is
// the hex SHA-256 of its file. Every method is one database transaction.
type ImportJobStore interface {
	// CreateImport inserts a job; officer is who started it. A job whose ID
	// exists is a conflict (code import_exists).
	CreateImport(ctx context.Context, job ImportJob, officer string) error
	// Import returns the job with id; a missing one is a *routing.Error of
	// kind not_found (code import_not_found).
	Import(ctx context.Context, id string) (*ImportJob, error)
	// Imports returns up to limit jobs, the most recently started first.
	// Jobs read from the store carry UpdatedAt; RowsPerSec is the caller's.
	Imports(ctx context.Context, limit int) ([]ImportJob, error)
	// SaveImport stores the job's fields and appends rejects in one
	// transaction. A reject whose (job, Row) is already stored is skipped.
	// The importer calls it once per committed batch, in file order, so
	// Done is the resume offset.
	SaveImport(ctx context.Context, job ImportJob, rejects []ImportReject) error
	// ImportRejects calls each for the job's rejects in Row order.
	ImportRejects(ctx context.Context, id string, each func(ImportReject) error) error
}
