package accounts

import "context"

// ResidentPasskey checks a portal sign-in with a discoverable passkey (the
// browser's answer to Passkeys.BeginLogin) and opens the resident's
// session, marked as opened with a passkey.
func (s *SignIn) ResidentPasskey(ctx context.Context, body []byte) (string, *Session, error) {
	eid, _, err := s.passkeys.FinishLogin(ctx, KindResident, body)
	if err != nil {
		return "", nil, err
	}
	lang, _ := s.residents.ChosenLanguage(ctx, eid)
	return s.sessions.NewSession(ctx, Session{Kind: SessionResident, Subject: eid, Lang: lang, AuthMethod: AuthPasskey})
}

// AdminPasskey checks a console sign-in with a discoverable passkey and
// opens the administrator's session (the account must be enabled).
func (s *SignIn) AdminPasskey(ctx context.Context, body []byte) (string, *Session, error) {
	name, _, err := s.passkeys.FinishLogin(ctx, KindAdmin, body)
	if err != nil {
		return "", nil, err
	}
	a, err := s.admins.PasskeySignIn(ctx, name)
	if err != nil {
		return "", nil, err
	}
	return s.sessions.NewSession(ctx, Session{Kind: SessionAdmin, Subject: a.Username, Role: a.Role, AuthMethod: AuthPasskey})
}
