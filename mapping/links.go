package mapping

import (
	"context"
	"unicode"
	"unicode/utf8"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// MaxLocalAccountRunes bounds a department's local account id.
const MaxLocalAccountRunes = 128

// checkLocalAccount validates a department's local account id: 1 to 128
// printable characters. The id itself never appears in an error or log.
func checkLocalAccount(op, localAccount string) error {
	n := utf8.RuneCountInString(localAccount)
	if n == 0 || n > MaxLocalAccountRunes {
		return routing.Invalid(op, "local_account", "the local account id must have 1 to %d characters", MaxLocalAccountRunes).WithCode("invalid_local_account")
	}
	if !utf8.ValidString(localAccount) {
		return routing.Invalid(op, "local_account", "the local account id is not valid UTF-8").WithCode("invalid_local_account")
	}
	for _, r := range localAccount {
		if !unicode.IsPrint(r) {
			return routing.Invalid(op, "local_account", "the local account id may hold printable characters only").WithCode("invalid_local_account")
		}
	}
	return nil
}

func checkDepartment(op, department string) error {
	if !model.ValidDepartmentID(department) {
		return routing.Invalid(op, "department", "not a department id").WithCode("invalid_department")
	}
	return nil
}

func notLinked(op string) error {
	return &routing.Error{Kind: routing.KindNotFound, Code: "account_not_linked", Op: op,
		Message: "no eID is linked to this account at this department"}
}

// LinkAccount links a department's local account to the eID of a document
// the resident showed. The ledger holds only a keyed hash of the account id.
// Linking the same account again changes nothing; an account linked under
// an older key version is linked again under the current one.
func (s *Service) LinkAccount(ctx context.Context, department, localAccount string, in Input) (*model.AccountLink, error) {
	const op = "mapping.LinkAccount"
	if err := checkDepartment(op, department); err != nil {
		return nil, err
	}
	if err := checkLocalAccount(op, localAccount); err != nil {
		return nil, err
	}
	doc, err := s.parse(op, "document", in)
	if err != nil {
		return nil, err
	}
	eid, err := s.find(ctx, op, doc)
	if err != nil {
		return nil, err
	}
	keys := s.Keyring()
	hash := keys.AccountHash(department, localAccount)
	links, err := s.ledger.ListLinks(ctx, eid)
	if err != nil {
		return nil, ledgerErr(op, err)
	}
	for _, l := range links {
		if l.Department != department {
			continue
		}
		if l.AccountHash == hash {
			return &l, nil
		}
		older := false
		for _, h := range keys.AccountHashAll(department, localAccount) {
			older = older || h.Value == l.AccountHash
		}
		if !older {
			return nil, &routing.Error{Kind: routing.KindConflict, Code: "eid_already_linked", Op: op,
				Message: "this resident is already linked to another account of the department; unlink it first"}
		}
		// The same account under an older key version: link it again under
		// the current one, so it keeps resolving once the old key is gone.
		if err := s.ledger.UnlinkAccount(ctx, eid, department); err != nil && !routing.IsKind(err, routing.KindNotFound) {
			return nil, ledgerErr(op, err)
		}
		s.cacheDrop(ctx, routing.CacheKeyLink(department, l.AccountHash))
	}
	link, err := s.ledger.LinkAccount(ctx, eid, department, hash)
	if routing.IsKind(err, routing.KindConflict) {
		if _, aerr := s.activeEID(ctx, op, eid); aerr != nil {
			return nil, aerr
		}
		return nil, &routing.Error{Kind: routing.KindConflict, Code: "account_already_linked", Op: op,
			Message: "this account of the department is already linked to another resident"}
	}
	if err != nil {
		return nil, ledgerErr(op, err)
	}
	s.log.InfoContext(ctx, "account linked", "eid", eid, "department", department, "document", doc)
	return link, nil
}

// LookupAccount returns the eID linked to the department's own local
// account, trying the account hash under every key version. A department
// only ever reaches its own links: the hash covers the department id.
func (s *Service) LookupAccount(ctx context.Context, department, localAccount string) (string, error) {
	const op = "mapping.LookupAccount"
	if err := checkDepartment(op, department); err != nil {
		return "", err
	}
	if err := checkLocalAccount(op, localAccount); err != nil {
		return "", err
	}
	for _, h := range s.Keyring().AccountHashAll(department, localAccount) {
		key := routing.CacheKeyLink(department, h.Value)
		if eid, ok := s.cacheGet(ctx, key); ok {
			return eid, nil
		}
		eid, err := s.ledger.LookupAccount(ctx, department, h.Value)
		if routing.IsKind(err, routing.KindNotFound) {
			continue
		}
		if err != nil {
			return "", ledgerErr(op, err)
		}
		s.cacheSet(ctx, key, eid)
		return eid, nil
	}
	return "", notLinked(op)
}

// UnlinkAccount removes the department's link of an eID.
func (s *Service) UnlinkAccount(ctx context.Context, department, eid string) error {
	const op = "mapping.UnlinkAccount"
	if err := checkDepartment(op, department); err != nil {
		return err
	}
	if err := checkEID(op, "eid", eid); err != nil {
		return err
	}
	links, err := s.ledger.ListLinks(ctx, eid)
	if err != nil && !routing.IsKind(err, routing.KindNotFound) {
		return ledgerErr(op, err)
	}
	var stale []string
	for _, l := range links {
		if l.Department == department {
			stale = append(stale, routing.CacheKeyLink(department, l.AccountHash))
		}
	}
	if err := s.ledger.UnlinkAccount(ctx, eid, department); err != nil {
		if routing.IsKind(err, routing.KindNotFound) {
			return notLinked(op)
		}
		return ledgerErr(op, err)
	}
	s.cacheDrop(ctx, stale...)
	s.log.InfoContext(ctx, "account unlinked", "eid", eid, "department", department)
	return nil
}
