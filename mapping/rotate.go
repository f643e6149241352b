package mapping

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// RotateOptions tune a key rotation.
type RotateOptions struct {
	Parallel int // ledger submissions in flight; default 4
	PageSize int // stored documents read and updated per database transaction; default 500
	// Progress is called after every page.
	Progress func(RotationProgress)
}

// RotationProgress counts a rotation's work.
type RotationProgress struct {
	Target  string `json:"target"`  // the key version documents are blinded under now
	Done    int64  `json:"done"`    // documents indexed under Target by this run
	Skipped int64  `json:"skipped"` // documents of deactivated eIDs: the ledger adds no index to them
	Failed  int64  `json:"failed"`  // documents the ledger refused otherwise (see the log)
}

// Rotate makes next the service's keyring and blinds every stored document
// again under next's current version: it opens the sealed number, computes
// the new index and adds it to the document's eID on the ledger (one
// transaction per document, Parallel at a time), then records the new
// version on the stored document, a page at a time.
//
// The stored version is the progress record: a rerun picks up exactly the
// documents not yet at the target version, and adding an index an eID
// already holds changes nothing on the ledger, so a run may stop anywhere.
// Old and new indexes both resolve throughout (lookups try every version of
// next). next's current version must be its newest, and next must still hold
// the version documents were written under until now.
func (s *Service) Rotate(ctx context.Context, next *Keyring, opts RotateOptions) (*RotationProgress, error) {
	const op = "mapping.Rotate"
	if next == nil {
		return nil, errors.New("mapping: no keyring to rotate to")
	}
	target := next.Current()
	if next.Versions()[0] != target {
		return nil, fmt.Errorf("mapping: rotate to the newest key version %s, not %s", next.Versions()[0], target)
	}
	for _, v := range s.Keyring().Versions() {
		if !slices.Contains(next.Versions(), v) {
			return nil, fmt.Errorf("mapping: the new keyring must keep version %s until every document is blinded under %s; drop it afterwards", v, target)
		}
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 500
	}
	s.SetKeyring(next)
	s.log.InfoContext(ctx, "key rotation started", "keys", next)

	prog := &RotationProgress{Target: target}
	after := ""
	for {
		page, err := s.docs.DocumentsNotAt(ctx, target, after, opts.PageSize)
		if err != nil {
			return prog, routing.Wrap(op, err)
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Ref
		updates, err := s.rotatePage(ctx, next, page, opts.Parallel, prog)
		if len(updates) > 0 {
			if serr := s.docs.SetIndexes(ctx, updates); serr != nil {
				return prog, routing.Unavailable(op, "database_unavailable", "recording rotation progress failed", serr)
			}
			prog.Done += int64(len(updates))
		}
		if err != nil {
			return prog, err
		}
		if opts.Progress != nil {
			opts.Progress(*prog)
		}
	}
	s.log.InfoContext(ctx, "key rotation finished", "target", target, "done", prog.Done, "skipped", prog.Skipped, "failed", prog.Failed)
	return prog, nil
}

// rotatePage re-indexes one page of documents, parallel at a time, and
// returns the updates of those that succeeded. The first error that is not
// the ledger refusing one document stops the page.
func (s *Service) rotatePage(ctx context.Context, keys *Keyring, page []StoredDocument, parallel int, prog *RotationProgress) ([]IndexUpdate, error) {
	const op = "mapping.Rotate"
	var (
		mu       sync.Mutex
		updates  []IndexUpdate
		firstErr error
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *StoredDocument)
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sd := range work {
				upd, outcome, err := s.rotateOne(ctx, keys, sd)
				mu.Lock()
				switch {
				case err != nil:
					if firstErr == nil {
						firstErr = err
						cancel()
					}
				case outcome == rotateSkipped:
					prog.Skipped++
				case outcome == rotateFailed:
					prog.Failed++
				default:
					updates = append(updates, upd)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range page {
		select {
		case work <- &page[i]:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return updates, routing.Wrap(op, firstErr)
	}
	return updates, nil
}

type rotateOutcome int

const (
	rotateDone rotateOutcome = iota
	rotateSkipped
	rotateFailed
)

// rotateOne adds the target-version index of one stored document to its
// eID, following a merge the stored record missed.
func (s *Service) rotateOne(ctx context.Context, keys *Keyring, sd *StoredDocument) (IndexUpdate, rotateOutcome, error) {
	doc, err := s.sealing.openDocument(sd)
	if err != nil {
		return IndexUpdate{}, 0, err
	}
	idx, err := keys.BlindVersion(doc, keys.Current())
	if err != nil {
		return IndexUpdate{}, 0, err
	}
	eid := sd.EID
	for attempt := 0; ; attempt++ {
		_, err = withLedgerRetry(ctx, func() (*model.Identity, error) {
			return s.ledger.AddDocumentIndex(ctx, eid, model.BlindedIndex(idx))
		})
		if err == nil {
			return IndexUpdate{Ref: sd.Ref, KeyVersion: idx.KeyVersion, BlindValue: idx.Value}, rotateDone, nil
		}
		if !routing.IsKind(err, routing.KindConflict) || attempt > 0 {
			break
		}
		id, gerr := s.ledger.GetEID(ctx, eid)
		if gerr != nil {
			return IndexUpdate{}, 0, gerr
		}
		switch id.Status {
		case model.EIDDeactivated:
			s.log.InfoContext(ctx, "key rotation skips a document of a deactivated eID", "eid", eid, "ref", sd.Ref, "document_type", sd.Type)
			return IndexUpdate{}, rotateSkipped, nil
		case model.EIDMerged:
			// The ledger follows merges: the survivor holds the old index.
			survivor, lerr := s.holderOf(ctx, sd.Index())
			if lerr != nil || survivor == "" || survivor == eid {
				return IndexUpdate{}, rotateFailed, lerr
			}
			if merr := s.docs.MoveDocuments(ctx, eid, survivor); merr != nil {
				return IndexUpdate{}, 0, merr
			}
			eid = survivor
			continue
		}
		break
	}
	if routing.IsKind(err, routing.KindConflict) || routing.IsKind(err, routing.KindNotFound) {
		s.log.WarnContext(ctx, "key rotation: the ledger refused a document", "eid", eid, "ref", sd.Ref, "document_type", sd.Type, "err", err)
		return IndexUpdate{}, rotateFailed, nil
	}
	return IndexUpdate{}, 0, err
}
