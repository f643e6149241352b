package main

import (
	"context"

	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/ledger"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/store"
)

// mappingStore presents the store's document and import-job repositories
// as the mapping service's DocumentStore and ImportJobStore.
type mappingStore struct{ db *store.DB }

var (
	_ mapping.DocumentStore  = mappingStore{}
	_ mapping.ImportJobStore = mappingStore{}
	_ mapping.Ledger         = (*ledger.Client)(nil)
)

func toStored(d store.ResidentDocument) mapping.StoredDocument {
	return mapping.StoredDocument{
		Ref: d.Ref, EID: d.EID, Type: d.DocType, Country: d.Country, Masked: d.MaskedNumber,
		KeyVersion: d.KeyVersion, BlindValue: d.BlindValue, Sealed: d.SealedNumber,
		ExternalRef: d.ExternalRef, AddedBy: d.AddedBy, AddedAt: d.CreatedAt,
	}
}

func fromStored(d mapping.StoredDocument) store.ResidentDocument {
	return store.ResidentDocument{
		Ref: d.Ref, EID: d.EID, DocType: d.Type, Country: d.Country, MaskedNumber: d.Masked,
		KeyVersion: d.KeyVersion, BlindValue: d.BlindValue, SealedNumber: d.Sealed,
		ExternalRef: d.ExternalRef, AddedBy: d.AddedBy, CreatedAt: d.AddedAt,
	}
}

func toStoredAll(ds []store.ResidentDocument) []mapping.StoredDocument {
	out := make([]mapping.StoredDocument, len(ds))
	for i, d := range ds {
		out[i] = toStored(d)
	}
	return out
}

func (s mappingStore) PutDocuments(ctx context.Context, docs []mapping.StoredDocument) error {
	in := make([]store.ResidentDocument, len(docs))
	for i, d := range docs {
		in[i] = fromStored(d)
	}
	_, err := s.db.PutDocuments(ctx, in)
	return err
}

func (s mappingStore) Document(ctx context.Context, ref string) (*mapping.StoredDocument, error) {
	d, err := s.db.GetDocument(ctx, ref)
	if routing.IsKind(err, routing.KindNotFound) || (err == nil && !d.RemovedAt.IsZero()) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := toStored(*d)
	return &out, nil
}

func (s mappingStore) DocumentsOf(ctx context.Context, eid string) ([]mapping.StoredDocument, error) {
	ds, err := s.db.ListDocuments(ctx, eid, false)
	if err != nil {
		return nil, err
	}
	return toStoredAll(ds), nil
}

func (s mappingStore) DeleteDocument(ctx context.Context, ref string) error {
	return s.db.RemoveDocument(ctx, ref)
}

func (s mappingStore) MoveDocuments(ctx context.Context, from, into string) error {
	_, err := s.db.MoveDocuments(ctx, from, into)
	return err
}

func (s mappingStore) DocumentsByIndex(ctx context.Context, indexes []mapping.Index) ([]mapping.StoredDocument, error) {
	in := make([]store.BlindIndex, len(indexes))
	for i, x := range indexes {
		in[i] = store.BlindIndex{KeyVersion: x.KeyVersion, Value: x.Value}
	}
	ds, err := s.db.FindDocumentsByBlind(ctx, in)
	if err != nil {
		return nil, err
	}
	return toStoredAll(ds), nil
}

func (s mappingStore) DocumentsNotAt(ctx context.Context, keyVersion, afterRef string, limit int) ([]mapping.StoredDocument, error) {
	ds, err := s.db.DocumentsNotAtKeyVersion(ctx, keyVersion, afterRef, limit)
	if err != nil {
		return nil, err
	}
	return toStoredAll(ds), nil
}

func (s mappingStore) SetIndexes(ctx context.Context, updates []mapping.IndexUpdate) error {
	in := make([]store.IndexUpdate, len(updates))
	for i, u := range updates {
		in[i] = store.IndexUpdate{Ref: u.Ref, KeyVersion: u.KeyVersion, BlindValue: u.BlindValue}
	}
	return s.db.SetDocumentIndexes(ctx, in)
}

func toJob(j store.ImportJob) gateway.ImportJob {
	out := gateway.ImportJob{
		ID: j.ID, FileName: j.FileName, Status: j.Status, Total: j.Total, Done: j.Done,
		Created: j.Created, Existing: j.Exists, Rejected: j.Rejected,
		StartedAt: j.StartedAt, FinishedAt: j.FinishedAt, Error: j.Error,
	}
	end := j.FinishedAt
	if end.IsZero() {
		end = j.UpdatedAt
	}
	if secs := end.Sub(j.StartedAt).Seconds(); secs > 0 {
		out.RowsPerSec = float64(j.Done) / secs
	}
	return out
}

func (s mappingStore) CreateImport(ctx context.Context, job gateway.ImportJob, officer string) error {
	_, err := s.db.CreateImportJob(ctx, store.ImportJob{
		ID: job.ID, FileName: job.FileName, FileSHA256: job.ID, Status: job.Status, Total: job.Total,
		StartedBy: officer, StartedAt: job.StartedAt,
	})
	return err
}

func (s mappingStore) Import(ctx context.Context, id string) (*gateway.ImportJob, error) {
	j, err := s.db.GetImportJob(ctx, id)
	if routing.IsKind(err, routing.KindNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := toJob(*j)
	return &out, nil
}

func (s mappingStore) Imports(ctx context.Context, limit int) ([]gateway.ImportJob, error) {
	js, err := s.db.ListImportJobs(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]gateway.ImportJob, len(js))
	for i, j := range js {
		out[i] = toJob(j)
	}
	return out, nil
}

func (s mappingStore) SaveImport(ctx context.Context, job gateway.ImportJob, rejects []mapping.ImportReject) error {
	rs := make([]store.ImportReject, len(rejects))
	for i, r := range rejects {
		rs[i] = store.ImportReject{JobID: job.ID, Row: r.Row, MaskedNumber: r.Masked, Reason: r.Reason, Message: r.Message}
	}
	return s.db.SaveImportJob(ctx, store.ImportJob{
		ID: job.ID, FileName: job.FileName, FileSHA256: job.ID, Status: job.Status, Total: job.Total,
		Done: job.Done, Created: job.Created, Exists: job.Existing, Rejected: job.Rejected,
		ResumeOffset: job.Done, StartedAt: job.StartedAt, FinishedAt: job.FinishedAt, Error: job.Error,
	}, rs)
}

func (s mappingStore) ImportRejects(ctx context.Context, id string, each func(mapping.ImportReject) error) error {
	var after int64
	for {
		page, err := s.db.ListImportRejects(ctx, id, after, 1000)
		if err != nil {
			return err
		}
		for _, r := range page {
			if err := each(mapping.ImportReject{Row: r.Row, Masked: r.MaskedNumber, Reason: r.Reason, Message: r.Message}); err != nil {
				return err
			}
			after = r.Row
		}
		if len(page) < 1000 {
			return nil
		}
	}
}
