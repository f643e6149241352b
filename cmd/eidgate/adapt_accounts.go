package main

import (
	"context"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/store"
)

// accountServices are the account services over one store.
type accountServices struct {
	residents *accounts.Residents
	admins    *accounts.Admins
	keys      *accounts.APIKeys
	sessions  *accounts.Sessions
}

func newAccountServices(db *store.DB, cfg accounts.Config) *accountServices {
	sessions := accounts.NewSessions(db, cfg)
	return &accountServices{
		residents: accounts.NewResidents(db, db, sessions, cfg),
		admins:    accounts.NewAdmins(db, db, sessions, cfg),
		keys:      accounts.NewAPIKeys(db, cfg),
		sessions:  sessions,
	}
}

var _ gateway.Accounts = (*accountServices)(nil)

func (a *accountServices) Activate(ctx context.Context, eid, code, password string) error {
	return a.residents.Activate(ctx, eid, code, password)
}

func (a *accountServices) ResidentLogin(ctx context.Context, eid, password string) error {
	_, err := a.residents.Login(ctx, eid, password)
	return err
}

func (a *accountServices) SetResidentLang(ctx context.Context, eid, lang string) error {
	return a.residents.SetLanguage(ctx, eid, lang)
}

func (a *accountServices) ResidentLang(ctx context.Context, eid string) (string, error) {
	return a.residents.Language(ctx, eid)
}

func (a *accountServices) AdminLogin(ctx context.Context, username, password string) (string, error) {
	ad, err := a.admins.Login(ctx, username, password)
	if err != nil {
		return "", err
	}
	return ad.Role, nil
}

func (a *accountServices) CreateAdmin(ctx context.Context, username, password, role string) error {
	_, err := a.admins.CreateAdmin(ctx, username, password, role)
	return err
}

func (a *accountServices) Admins(ctx context.Context) ([]gateway.AdminUser, error) {
	list, err := a.admins.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]gateway.AdminUser, len(list))
	for i, ad := range list {
		out[i] = gateway.AdminUser{Username: ad.Username, Role: ad.Role, Disabled: ad.Disabled}
	}
	return out, nil
}

func apiKeyView(k accounts.APIKey) gateway.APIKey {
	return gateway.APIKey{ID: k.ID, Department: k.Department, Name: k.Name, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt, LastUsedAt: k.LastUsedAt}
}

func (a *accountServices) IssueAPIKey(ctx context.Context, department, name string) (string, *gateway.APIKey, error) {
	token, k, err := a.keys.IssueAPIKey(ctx, department, name)
	if err != nil {
		return "", nil, err
	}
	v := apiKeyView(k)
	return token, &v, nil
}

func (a *accountServices) AuthenticateAPIKey(ctx context.Context, token string) (string, string, error) {
	return a.keys.Authenticate(ctx, token)
}

func (a *accountServices) RevokeAPIKey(ctx context.Context, id string) error {
	return a.keys.RevokeAPIKey(ctx, id)
}

func (a *accountServices) APIKeys(ctx context.Context, department string) ([]gateway.APIKey, error) {
	list, err := a.keys.ListAPIKeys(ctx, department)
	if err != nil {
		return nil, err
	}
	out := make([]gateway.APIKey, len(list))
	for i, k := range list {
		out[i] = apiKeyView(k)
	}
	return out, nil
}

func sessionView(s *accounts.Session) *gateway.Session {
	return &gateway.Session{Kind: s.Kind, Subject: s.Subject, Role: s.Role, Lang: s.Lang, CSRFToken: s.CSRFToken, ExpiresAt: s.ExpiresAt}
}

func (a *accountServices) NewSession(ctx context.Context, s gateway.Session) (string, *gateway.Session, error) {
	token, out, err := a.sessions.NewSession(ctx, accounts.Session{Kind: s.Kind, Subject: s.Subject, Role: s.Role, Lang: s.Lang})
	if err != nil {
		return "", nil, err
	}
	return token, sessionView(out), nil
}

func (a *accountServices) LookupSession(ctx context.Context, token string) (*gateway.Session, error) {
	s, err := a.sessions.Lookup(ctx, token)
	if err != nil {
		return nil, err
	}
	return sessionView(s), nil
}

func (a *accountServices) RevokeSession(ctx context.Context, token string) error {
	return a.sessions.Revoke(ctx, token)
}
