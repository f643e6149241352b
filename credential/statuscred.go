package credential

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential/sdjwt"
	"github.com/eidgate/eidgate/credential/statuslist"
	"github.com/eidgate/eidgate/routing"
)

// StatusPath is where a gateway serves status list credentials:
// <base>/v1/credentials/status/<issuer>/<list id>.
const StatusPath = "/v1/credentials/status/"

// StatusListURL returns the URL of a status list credential.
func StatusListURL(base, issuer, listID string) string {
	return strings.TrimRight(base, "/") + StatusPath + issuer + "/" + listID
}

// ParseStatusListURL returns the issuer and list id a status list URL
// names (its last two path segments).
func ParseStatusListURL(u string) (issuer, listID string, ok bool) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.RawQuery != "" || p.Fragment != "" {
		return "", "", false
	}
	i := strings.LastIndex(p.Path, StatusPath)
	if i < 0 {
		return "", "", false
	}
	issuer, listID, found := strings.Cut(p.Path[i+len(StatusPath):], "/")
	if !found || !model.ValidDepartmentID(issuer) || !model.ValidKID(listID) {
		return "", "", false
	}
	return issuer, listID, true
}

// StatusEntryFor returns the credentialStatus entry of index in a list.
func StatusEntryFor(listURL, purpose string, index int) StatusEntry {
	idx := strconv.Itoa(index)
	return StatusEntry{ID: listURL + "#" + idx, Type: TypeStatus, StatusPurpose: purpose,
		StatusListIndex: idx, StatusListCredential: listURL}
}

// StatusListCredential is a signed status list with its digest, which is
// what the ledger anchors.
type StatusListCredential struct {
	Token  string
	Digest string
}

// IssueStatusList signs a BitstringStatusListCredential for list, secured
// like the credentials it covers (vc+sd-jwt, ES256, same issuer key; here
// with no selectively disclosable claims), as Bitstring Status List §3.6
// advises.
func IssueStatusList(s Signer, listURL, purpose string, list *statuslist.List, at time.Time) (*StatusListCredential, error) {
	vc := map[string]any{
		"@context":  []string{ContextV2},
		"id":        listURL,
		"type":      []string{TypeVC, TypeList},
		"issuer":    model.IssuerDID(s.Department),
		"validFrom": model.FormatTime(at),
		"credentialSubject": map[string]any{
			"id":            listURL + "#list",
			"type":          TypeListSub,
			"statusPurpose": purpose,
			"encodedList":   list.Encode(),
		},
		"iat": at.Unix(),
	}
	token, err := sdjwt.Issue(s.Key, sdjwt.Header{Typ: TypHeader, Cty: CtyHeader, Kid: s.vmID()}, vc, nil)
	if err != nil {
		return nil, routing.Wrap("credential.IssueStatusList", err)
	}
	return &StatusListCredential{Token: token, Digest: DigestOf(strings.TrimSuffix(token, "~"))}, nil
}
