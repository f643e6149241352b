package mapping

import (
	"strings"
	"time"

	"github.com/eidgate/eidgate/routing"
)

func parseCNResident(raw string, now time.Time) (Document, error) {
	const t = CNResident
	s := fold(raw)
	if !onlyBytes(s, false, "X") {
		return Document{}, reject(t, ReasonCharacters, s, "a resident identity number has only digits and a final check character X")
	}
	switch len(s) {
	case 18:
		if err := checkGB11643(t, s); err != nil {
			return Document{}, err
		}
		if !mainlandProvince(s) {
			msg := "the first two digits are not a mainland province code of GB/T 2260"
			if strings.HasPrefix(s, "81") || strings.HasPrefix(s, "82") || strings.HasPrefix(s, "83") {
				msg += "; numbers starting 810000, 820000 or 830000 are residence permits (hkmotw-residence)"
			}
			return Document{}, reject(t, ReasonRegion, s, msg)
		}
		if err := checkBirthDate(t, s, s[6:14], now); err != nil {
			return Document{}, err
		}
		return newDocument(t, s, ""), nil
	case 15:
		if !isDigits(s) {
			return Document{}, reject(t, ReasonFormat, s, "a 15-digit first-generation number has no check character X")
		}
		if !mainlandProvince(s) {
			return Document{}, reject(t, ReasonRegion, s, "the first two digits are not a mainland province code of GB/T 2260")
		}
		if err := checkBirthDate(t, s, "19"+s[6:12], now); err != nil {
			return Document{}, err
		}
		body := s[:6] + "19" + s[6:]
		doc := newDocument(t, body+string(gb11643Check(body)), "")
		doc.d.upgraded = true
		return doc, nil
	}
	return Document{}, reject(t, ReasonLength, s, "a resident identity number has 18 characters (15 digits on a first-generation card)")
}

func parseHKMOTWResidence(raw string, now time.Time) (Document, error) {
	const t = HKMOTWResidence
	s := fold(raw)
	if !onlyBytes(s, false, "X") {
		return Document{}, reject(t, ReasonCharacters, s, "a residence permit number has only digits and a final check character X")
	}
	if len(s) != 18 {
		return Document{}, reject(t, ReasonLength, s, "a residence permit number has 18 characters")
	}
	if err := checkGB11643(t, s); err != nil {
		return Document{}, err
	}
	switch s[:6] {
	case "810000", "820000", "830000":
	default:
		return Document{}, reject(t, ReasonRegion, s, "a residence permit number starts with 810000 (Hong Kong), 820000 (Macao) or 830000 (Taiwan)")
	}
	if err := checkBirthDate(t, s, s[6:14], now); err != nil {
		return Document{}, err
	}
	return newDocument(t, s, ""), nil
}

// checkGB11643 checks the layout and check character of an 18-character
// GB 11643-style number whose characters are already known to be digits or X.
func checkGB11643(t DocType, s string) *routing.Error {
	if strings.IndexByte(s[:17], 'X') >= 0 {
		return reject(t, ReasonFormat, s, "X may only be the last (check) character")
	}
	if gb11643Check(s[:17]) != s[17] {
		return reject(t, ReasonChecksum, s, "the check character does not match (GB 11643, ISO 7064 MOD 11-2); the number is mistyped")
	}
	return nil
}

// checkBirthDate checks an embedded YYYYMMDD birth date: a real calendar
// date, not before 1900 and not after the calendar date of now.
func checkBirthDate(t DocType, s, yyyymmdd string, now time.Time) *routing.Error {
	switch validBirthDate(yyyymmdd, now) {
	case dateInvalid:
		return reject(t, ReasonDate, s, "the embedded birth date is not a real calendar date")
	case dateTooEarly:
		return reject(t, ReasonDate, s, "the embedded birth date is before 1900")
	case dateFuture:
		return reject(t, ReasonDate, s, "the embedded birth date is in the future")
	}
	return nil
}

type dateCheck int

const (
	dateOK dateCheck = iota
	dateInvalid
	dateTooEarly
	dateFuture
)

func validBirthDate(yyyymmdd string, now time.Time) dateCheck {
	if len(yyyymmdd) != 8 || !isDigits(yyyymmdd) {
		return dateInvalid
	}
	y := atoi(yyyymmdd[:4])
	m := atoi(yyyymmdd[4:6])
	d := atoi(yyyymmdd[6:8])
	if m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return dateInvalid
	}
	if y < 1900 {
		return dateTooEarly
	}
	ny, nm, nd := now.Date()
	if y*10000+m*100+d > ny*10000+int(nm)*100+nd {
		return dateFuture
	}
	return dateOK
}

// birthDateYYMMDD resolves a two-digit year the way a human would: the
// latest century in which the date is real and not in the future.
func birthDateYYMMDD(yymmdd string, now time.Time) dateCheck {
	if validBirthDate("20"+yymmdd, now) == dateOK {
		return dateOK
	}
	return validBirthDate("19"+yymmdd, now)
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// atoi converts a short run of ASCII digits already checked by isDigits.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// letterAndSeven reports whether s (8 characters) is a letter other than I
// or O followed by 7 digits; the issuing authority skips I and O because they
// read as 1 and 0.
func letterAndSeven(s string) bool {
	return len(s) == 8 && isUpperLetter(s[0]) && s[0] != 'I' && s[0] != 'O' && isDigits(s[1:])
}

func parseCNPassport(raw string) (Document, error) {
	const t = CNPassport
	s := fold(raw)
	if !onlyBytes(s, true, "") {
		return Document{}, reject(t, ReasonCharacters, s, "a PRC passport number has only letters and digits")
	}
	if len(s) != 9 {
		return Document{}, reject(t, ReasonLength, s, "a PRC passport number has 9 characters")
	}
	switch {
	case s[0] == 'E' && (isDigits(s[1:]) || letterAndSeven(s[1:])):
	case s[0] == 'G' && isDigits(s[1:]):
	default:
		return Document{}, reject(t, ReasonFormat, s, "a PRC passport number is E + 8 digits, E + a letter (not I or O) + 7 digits, or G + 8 digits")
	}
	return newDocument(t, s, ""), nil
}

func parseCNHKMOPass(raw string) (Document, error) {
	const t = CNHKMOPass
	s := fold(raw)
	if !onlyBytes(s, true, "") {
		return Document{}, reject(t, ReasonCharacters, s, "an exit-entry permit number has only letters and digits")
	}
	if len(s) != 9 {
		return Document{}, reject(t, ReasonLength, s, "an exit-entry permit number has 9 characters")
	}
	if s[0] != 'C' || !(isDigits(s[1:]) || letterAndSeven(s[1:])) {
		return Document{}, reject(t, ReasonFormat, s, "an exit-entry permit number is C + 8 digits or C + a letter (not I or O) + 7 digits")
	}
	return newDocument(t, s, ""), nil
}

// splitIssueCount separates the optional 2-digit issue count of a travel
// permit: body, body+NN or body+(NN). It reports false when the rest after
// the body is none of these.
func splitIssueCount(s string, bodyLen int) (string, bool) {
	if len(s) < bodyLen {
		return "", false
	}
	body, rest := s[:bodyLen], s[bodyLen:]
	switch {
	case rest == "":
	case len(rest) == 2 && isDigits(rest):
	case len(rest) == 4 && rest[0] == '(' && rest[3] == ')' && isDigits(rest[1:3]):
	default:
		return "", false
	}
	return body, true
}

func parseHKMOPermit(raw string) (Document, error) {
	const t = HKMOPermit
	s := fold(raw)
	if !onlyBytes(s, true, "()") {
		return Document{}, reject(t, ReasonCharacters, s, "a Hong Kong/Macao residents' permit number has only letters and digits (and an issue count in brackets)")
	}
	switch len(s) {
	case 9, 11, 13:
	default:
		return Document{}, reject(t, ReasonLength, s, "a Hong Kong/Macao residents' permit number has 9 characters, optionally followed by the 2-digit issue count")
	}
	body, ok := splitIssueCount(s, 9)
	if !ok || (body[0] != 'H' && body[0] != 'M') || !isDigits(body[1:]) {
		return Document{}, reject(t, ReasonFormat, s, "a Hong Kong/Macao residents' permit number is H or M + 8 digits, optionally followed by the 2-digit issue count")
	}
	return newDocument(t, body, ""), nil
}

func parseTWPermit(raw string) (Document, error) {
	const t = TWPermit
	s := fold(raw)
	if !onlyBytes(s, false, "()") {
		return Document{}, reject(t, ReasonCharacters, s, "a Taiwan residents' permit number has only digits (and an issue count in brackets)")
	}
	switch len(s) {
	case 8, 10, 12:
	default:
		return Document{}, reject(t, ReasonLength, s, "a Taiwan residents' permit number has 8 digits, optionally followed by the 2-digit issue count")
	}
	body, ok := splitIssueCount(s, 8)
	if !ok || !isDigits(body) {
		return Document{}, reject(t, ReasonFormat, s, "a Taiwan residents' permit number is 8 digits, optionally followed by the 2-digit issue count")
	}
	return newDocument(t, body, ""), nil
}

func parseForeignPermanent(raw string, now time.Time) (Document, error) {
	const t = ForeignPermanent
	s := fold(raw)
	if !onlyBytes(s, true, "") {
		return Document{}, reject(t, ReasonCharacters, s, "a permanent resident ID number has only letters and digits")
	}
	switch len(s) {
	case 15:
		if !isUpperLetter(s[0]) || !isUpperLetter(s[1]) || !isUpperLetter(s[2]) || !isDigits(s[3:]) {
			return Document{}, reject(t, ReasonFormat, s, "a 15-character permanent resident ID number is 3 letters (nationality) + 12 digits")
		}
		if icaoCheckDigit(s[:14]) != s[14] {
			return Document{}, reject(t, ReasonChecksum, s, "the check digit does not match (weights 7-3-1); the number is mistyped")
		}
		if !mainlandProvince(s[3:5]) {
			return Document{}, reject(t, ReasonRegion, s, "the issuing region is not a mainland province code of GB/T 2260")
		}
		if !foreignNationality(s[:3]) {
			return Document{}, reject(t, ReasonCountry, s, "the nationality is not an ISO 3166-1 alpha-3 code of a foreign state")
		}
		if birthDateYYMMDD(s[7:13], now) != dateOK {
			return Document{}, reject(t, ReasonDate, s, "the embedded birth date is not a real calendar date in the past")
		}
		return newDocument(t, s, ""), nil
	case 18:
		if !onlyBytes(s, false, "X") {
			return Document{}, reject(t, ReasonCharacters, s, "an 18-character permanent resident ID number has only digits and a final check character X")
		}
		if s[0] != '9' {
			return Document{}, reject(t, ReasonFormat, s, "an 18-character permanent resident ID number starts with 9")
		}
		if err := checkGB11643(t, s); err != nil {
			return Document{}, err
		}
		if !mainlandProvince(s[1:3]) {
			return Document{}, reject(t, ReasonRegion, s, "the issuing region is not a mainland province code of GB/T 2260")
		}
		if a3, ok := iso3166Alpha3(s[3:6]); !ok || !foreignNationality(a3) {
			return Document{}, reject(t, ReasonCountry, s, "the nationality is not an ISO 3166-1 numeric code of a foreign state")
		}
		if err := checkBirthDate(t, s, s[6:14], now); err != nil {
			return Document{}, err
		}
		return newDocument(t, s, ""), nil
	}
	return Document{}, reject(t, ReasonLength, s, "a permanent resident ID number has 18 digits (15 characters on cards issued before December 2023)")
}

// foreignNationality reports whether alpha3 may be the nationality on a
// foreigner's permanent residence card: an ISO 3166-1 country other than
// China (whose nationals do not hold one), or a stateless or refugee code of
// ICAO 9303.
func foreignNationality(alpha3 string) bool {
	switch alpha3 {
	case "CHN":
		return false
	case "XXA", "XXB", "XXC", "XXX":
		return true
	}
	_, ok := iso3166Numeric(alpha3)
	return ok
}

func parsePassport(rawNumber, rawCountry string) (Document, error) {
	const t = Passport
	num := fold(rawNumber)
	country := fold(rawCountry)
	if i := strings.IndexByte(num, ':'); i >= 0 {
		prefix := num[:i]
		num = num[i+1:]
		if country == "" {
			country = prefix
		} else if a, _ := issuingState(prefix); a != mustState(country) {
			return Document{}, reject(t, ReasonCountry, num, "the issuing state before the colon differs from the Country field")
		}
	}
	state, ok := issuingState(country)
	if state == "" {
		return Document{}, reject(t, ReasonCountry, num, "a passport needs its issuing state: the Country field, or the number written COUNTRY:NUMBER")
	}
	if !ok {
		return Document{}, reject(t, ReasonCountry, num, "the issuing state is not an ISO 3166-1 alpha-3 code or an ICAO 9303 special code")
	}
	fail := func(r Reason, msg string) (Document, error) {
		return Document{}, rejection(t, r, state+":"+Mask(num), msg)
	}
	if !onlyBytes(num, true, "<") {
		return fail(ReasonCharacters, "a passport number has only letters A-Z, digits and trailing MRZ fillers <")
	}
	field, check := num, byte(0)
	if len(num) == 10 && isDigits(num[9:]) {
		field, check = num[:9], num[9]
	}
	if len(field) > 9 {
		return fail(ReasonLength, "a passport number has at most 9 characters (10 in the MRZ form with its check digit)")
	}
	number := strings.TrimRight(field, "<")
	if number == "" {
		return fail(ReasonLength, "the passport number is empty")
	}
	if strings.IndexByte(number, '<') >= 0 {
		return fail(ReasonFormat, "the MRZ filler < may only pad the end of the number")
	}
	if check != 0 && icaoCheckDigit(field) != check {
		return fail(ReasonChecksum, "the MRZ check digit does not match (ICAO 9303, weights 7-3-1); the number is mistyped")
	}
	return newDocument(t, number, state), nil
}

func mustState(s string) string {
	state, _ := issuingState(s)
	return state
}
