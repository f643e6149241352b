package credential

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/eidgate/eidgate/credential/sdjwt"
	"github.com/eidgate/eidgate/routing"
)

// Input is a credential or presentation to verify, as `eidgate verify` and
// the public verifier page receive it.
type Input struct {
	Token        string
	Presentation bool
	Audience     string
	Nonce        string
	Bundle       *ProofBundle // nil: verify online
}

// MaxInputSize bounds a verification file (a presentation and its bundle).
const MaxInputSize = 4 << 20

// ParseInput reads a verification file (JSON with "credential" or
// "presentation", see VerificationFile) or a bare compact SD-JWT, which is
// a presentation when it ends with a key binding JWT. It reports ok false
// for input that is neither — a JSON object without those members, such as
// a record envelope — so the caller can take its record path.
func ParseInput(raw []byte) (Input, bool, error) {
	const op = "credential.ParseInput"
	if len(raw) > MaxInputSize {
		return Input{}, false, routing.Invalid(op, "file", "the input is larger than %d bytes", MaxInputSize).WithCode(sdjwt.CodeTooLarge)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var probe map[string]json.RawMessage
		if json.Unmarshal(raw, &probe) != nil {
			return Input{}, false, routing.Invalid(op, "file", "the input is not valid JSON")
		}
		_, hasC := probe["credential"]
		_, hasP := probe["presentation"]
		if !hasC && !hasP {
			return Input{}, false, nil
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		var f VerificationFile
		if err := dec.Decode(&f); err != nil {
			return Input{}, false, routing.Invalid(op, "file", "the verification file has an unknown member or a member of the wrong type")
		}
		if (f.Credential == "") == (f.Presentation == "") {
			return Input{}, false, routing.Invalid(op, "file", "a verification file holds either a credential or a presentation")
		}
		if f.Presentation != "" && (f.Audience == "" || f.Nonce == "") {
			return Input{}, false, routing.Invalid(op, "nonce", "a presentation is checked against the audience and nonce it was made for")
		}
		in := Input{Token: f.Credential, Audience: f.Audience, Nonce: f.Nonce, Bundle: f.Bundle}
		if f.Presentation != "" {
			in.Token, in.Presentation = f.Presentation, true
		}
		return in, true, nil
	}
	s := string(raw)
	if !strings.HasPrefix(s, "ey") || !strings.Contains(s, "~") {
		return Input{}, false, nil
	}
	return Input{Token: s, Presentation: !strings.HasSuffix(s, "~")}, true, nil
}
