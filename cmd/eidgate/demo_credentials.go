package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/internal/demo"
	"github.com/eidgate/eidgate/internal/safefile"
)

// demoCredentialTypes are the data types the demo issues credentials for.
var demoCredentialTypes = map[string]bool{"edu.degree": true}

// demoCredentialsDir holds the sample credentials, one compact token per
// file.
const demoCredentialsDir = "credentials"

// demoCredentials has the education bureau issue a degree credential for
// every demo resident with a degree record (held by the portal's custodial
// holder key), writes each token to <data dir>/credentials/<eid>-<type>.sd-jwt
// and records it with the provider's copy of the record, so the provider
// serves the credential the route entry now names. A record that already
// has its credential (an interrupted load) keeps it.
func (m *Main) demoCredentials(ctx context.Context, recs []demo.StoredRecord) ([]DemoCredential, error) {
	if err := os.MkdirAll(filepath.Join(m.Config.DataDir, demoCredentialsDir), 0o700); err != nil {
		return nil, err
	}
	var out []DemoCredential
	for i := range recs {
		r := &recs[i]
		if !demoCredentialTypes[r.DataType] {
			continue
		}
		if r.Credential == "" {
			issued, err := m.credentials.Issue(ctx, credential.IssueRequest{Issuer: r.Provider, Subject: r.EID, DataType: r.DataType, Claims: r.Record})
			if err != nil {
				return nil, err
			}
			r.Credential, r.Version, r.Digest = issued.Token, issued.Version, issued.Digest
			if err := demo.SaveRecords(m.Config.DataDir, recs); err != nil {
				return nil, err
			}
		}
		rel := filepath.Join(demoCredentialsDir, r.EID+"-"+r.DataType+".sd-jwt")
		if err := safefile.WriteSecret(filepath.Join(m.Config.DataDir, rel), []byte(r.Credential)); err != nil {
			return nil, err
		}
		out = append(out, DemoCredential{EID: r.EID, Type: r.DataType, Path: rel})
	}
	return out, nil
}
