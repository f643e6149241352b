package demo

import (
	"context"
	"os"
	"path/filepath"

	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/internal/safefile"
)

// credentialTypes are the data types the demo issues credentials for.
var credentialTypes = map[string]bool{"edu.degree": true}

// credentialsDir holds the sample credentials, one compact token per
// file.
const credentialsDir = "credentials"

// credentials has the education bureau issue a degree credential for
// every demo resident with a degree record (held by the portal's custodial
// holder key), writes each token to <data dir>/credentials/<eid>-<type>.sd-jwt
// and records it with the provider's copy of the record, so the provider
// serves the credential the route entry now names. A record that already
// has its credential (an interrupted load) keeps it.
func (l *Loader) credentials(ctx context.Context, recs []StoredRecord) ([]SampleCredential, error) {
	if err := os.MkdirAll(filepath.Join(l.cfg.DataDir, credentialsDir), 0o700); err != nil {
		return nil, err
	}
	var out []SampleCredential
	for i := range recs {
		r := &recs[i]
		if !credentialTypes[r.DataType] {
			continue
		}
		if r.Credential == "" {
			issued, err := l.cfg.Credentials.Issue(ctx, credential.IssueRequest{Issuer: r.Provider, Subject: r.EID, DataType: r.DataType, Claims: r.Record})
			if err != nil {
				return nil, err
			}
			r.Credential, r.Version, r.Digest = issued.Token, issued.Version, issued.Digest
			if err := SaveRecords(l.cfg.DataDir, recs); err != nil {
				return nil, err
			}
		}
		rel := filepath.Join(credentialsDir, r.EID+"-"+r.DataType+".sd-jwt")
		if err := safefile.WriteSecret(filepath.Join(l.cfg.DataDir, rel), []byte(r.Credential)); err != nil {
			return nil, err
		}
		out = append(out, SampleCredential{EID: r.EID, Type: r.DataType, Path: rel})
	}
	return out, nil
}
