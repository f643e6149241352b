package mapping

import (
	"sort"
	"strings"
)

// mainlandProvince reports whether the two digits at s[0:2] are the province
// prefix of a mainland province-level division in GB/T 2260: 11-15, 21-23,
// 31-37, 41-46, 50-54, 61-65. Resident identity cards and foreigners'
// permanent residence cards are issued only there; 71 (Taiwan) and 81/82/83
// (the residence permits of Hong Kong, Macao and Taiwan residents) are not
// resident-card prefixes.
func mainlandProvince(s string) bool {
	if len(s) < 2 || !isDigits(s[:2]) {
		return false
	}
	hi, lo := s[0]-'0', s[1]-'0'
	switch hi {
	case 1:
		return lo >= 1 && lo <= 5
	case 2:
		return lo >= 1 && lo <= 3
	case 3:
		return lo >= 1 && lo <= 7
	case 4:
		return lo >= 1 && lo <= 6
	case 5:
		return lo <= 4
	case 6:
		return lo >= 1 && lo <= 5
	}
	return false
}

//go:generate go run ./internal/gencountries testdata/iso3166-1.tsv countries_table.go

// icaoSpecial reports whether s is an issuing-state code of ICAO 9303 part 3
// that is not an ISO 3166-1 alpha-3 code, or RKS, which Kosovo passports
// carry.
func icaoSpecial(s string) bool {
	switch s {
	case "D", // Germany
		"EUE",                             // European Union
		"GBD", "GBN", "GBO", "GBP", "GBS", // British nationality classes
		"RKS",               // Kosovo
		"UNA", "UNK", "UNO", // United Nations
		"XBA", "XCC", "XCE", "XCO", "XDC", "XEC", // international organisations
		"XES", "XIM", "XMP", "XOM", "XPO",
		"XXA", "XXB", "XXC", "XXX": // stateless, refugees, unspecified
		return true
	}
	return false
}

// iso3166Numeric returns the ISO 3166-1 numeric code of an alpha-3 code.
func iso3166Numeric(alpha3 string) (string, bool) {
	return lookup6(iso3166ByAlpha3, alpha3)
}

// iso3166Alpha3 returns the ISO 3166-1 alpha-3 code of a numeric code.
func iso3166Alpha3(numeric string) (string, bool) {
	return lookup6(iso3166ByNumeric, numeric)
}

// lookup6 binary-searches a table of 6-byte records whose first three bytes
// are the sorted key and returns the other three.
func lookup6(table, key string) (string, bool) {
	if len(key) != 3 {
		return "", false
	}
	n := len(table) / 6
	i := sort.Search(n, func(i int) bool { return table[i*6:i*6+3] >= key })
	if i < n && table[i*6:i*6+3] == key {
		return table[i*6+3 : i*6+6], true
	}
	return "", false
}

// issuingState normalises a passport's issuing state and reports whether it
// is known. DEU becomes D, the code German passports carry; trailing MRZ
// fillers ("D<<") are dropped.
func issuingState(s string) (string, bool) {
	s = strings.TrimRight(fold(s), "<")
	if s == "DEU" {
		return "D", true
	}
	if len(s) == 3 {
		if _, ok := iso3166Numeric(s); ok {
			return s, true
		}
	}
	return s, icaoSpecial(s)
}
