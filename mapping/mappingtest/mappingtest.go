// Package mappingtest gives tests identity documents that the real mapping
// rules accept and the keys a real mapping service needs, so tests of the
// packages around mapping (the gateway, the importer, the store) run the
// mapping service itself instead of a stand-in with looser rules.
package mappingtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/eidgate/eidgate/mapping"
)

// residentBirth is the birth date of ResidentNumber(0); each 900 numbers
// move it on by a day.
var residentBirth = time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC)

// ResidentNumber returns the i-th of a family of valid, distinct
// cn-resident numbers (Beijing Xicheng, born 1950 onwards). The check
// character is whichever one mapping.Parse accepts, so the numbers follow
// the mapping rules exactly.
func ResidentNumber(i int) string {
	birth := residentBirth.AddDate(0, 0, i/900)
	body := fmt.Sprintf("110102%s%03d", birth.Format("20060102"), 100+i%900)
	for _, c := range "0123456789X" {
		n := body + string(c)
		if _, err := mapping.Parse(mapping.Input{Type: mapping.CNResident, Number: n}, time.Now()); err == nil {
			return n
		}
	}
	panic("mappingtest: no check character makes " + body + " valid")
}

// Resident is the document of ResidentNumber(i).
func Resident(i int) mapping.Input {
	return mapping.Input{Type: mapping.CNResident, Number: ResidentNumber(i)}
}

// Passport is a valid foreign passport document: n in the document number,
// issued by country (an ISO 3166-1 alpha-3 code).
func Passport(n int, country string) mapping.Input {
	return mapping.Input{Type: mapping.Passport, Number: fmt.Sprintf("MX%06d", n), Country: country}
}

// Keys returns a new blinding keyring (one version, v1) and sealing key.
func Keys(t testing.TB) (*mapping.Keyring, *mapping.SealingKey) {
	t.Helper()
	keys, err := mapping.NewKeyring("v1", map[string][]byte{"v1": mapping.NewKey()})
	if err != nil {
		t.Fatal(err)
	}
	sealing, err := mapping.NewSealingKey(mapping.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	return keys, sealing
}

// NewService builds the real mapping service from cfg, with new keys when
// cfg names none.
func NewService(t testing.TB, cfg mapping.Config) *mapping.Service {
	t.Helper()
	if cfg.Keys == nil || cfg.Sealing == nil {
		keys, sealing := Keys(t)
		if cfg.Keys == nil {
			cfg.Keys = keys
		}
		if cfg.Sealing == nil {
			cfg.Sealing = sealing
		}
	}
	svc, err := mapping.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}
