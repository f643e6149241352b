package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/credential/keydir"
	"github.com/eidgate/eidgate/internal/demo"
)

// issuerKeyDir is where the gateway finds the signing keys departments
// entrust to it for issuing (<dir>/<department>.pem): --issuer-key-dir, or
// the demo's key directory.
func (m *Main) issuerKeyDir() string {
	if m.Config.IssuerKeyDir != "" {
		return m.Config.IssuerKeyDir
	}
	return demo.KeyDir(m.Config.DataDir)
}

// openCredentials builds the credential service (issuing, status lists,
// wallets, presentations, verification) and the yes/no question service.
func (m *Main) openCredentials(context.Context) error {
	keys, err := keydir.New(m.issuerKeyDir(), m.agent)
	if err != nil {
		return err
	}
	m.issuerKeys = keys
	hk, err := m.secretKey(holderKeyFile)
	if err != nil {
		return fmt.Errorf("holder key: %w", err)
	}
	holders, err := credential.NewSealedHolders(m.db, hk)
	if err != nil {
		return err
	}
	base := m.Config.PublicURL
	if base == "" {
		base = m.url
	}
	if base == "" {
		// Tools without a listener: credentials name the gateway's public
		// URL, which only --public-url can tell them.
		base = "http://" + m.Config.Listen
	}
	pseudonymKey, err := m.secretKey(pseudonymKeyFile)
	if err != nil {
		return fmt.Errorf("pseudonym key: %w", err)
	}
	svc, err := credential.NewService(credential.Config{PseudonymKey: pseudonymKey,
		Ledger: m.agent, Store: m.db, Access: m.db, Keys: keys, Holders: holders,
		Answers: &credential.HTTPAnswerer{Departments: m.agent, Client: &http.Client{Timeout: 10 * time.Second}},
		Cache:   m.cache, Clock: m.Clock, BaseURL: base,
	})
	if err != nil {
		return err
	}
	m.credentials = svc
	q, err := credential.NewQuestions(credential.QuestionsConfig{Authorizer: m.resolver, Credentials: svc})
	if err != nil {
		return err
	}
	m.questions = q
	return nil
}

// invalidateCredentials drops the issuer DIDs and status lists a committed
// change set touched; every replica's listener calls it for every event.
func (m *Main) invalidateCredentials(ctx context.Context, cs model.ChangeSet) {
	if m.credentials == nil {
		return
	}
	if err := m.credentials.Invalidate(ctx, cs); err != nil {
		m.logger().Warn("credential cache invalidation failed; entries expire by TTL", "err", err)
	}
}
