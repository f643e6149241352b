package accounts

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Password policy.
const (
	MinPasswordLen = 10  // characters
	MaxPasswordLen = 256 // bytes: argon2 takes any length, but a megabyte password is an attack
)

// CheckPassword applies the password policy: at least MinPasswordLen
// characters, at most MaxPasswordLen bytes, valid UTF-8 without control
// characters, characters from at least two classes (lower-case letters,
// upper-case letters, digits, anything else), and not the same as any of
// avoid (the activation code, the user name), ignoring case and
// separators. It returns a message safe to show, or "" when the password is
// acceptable.
func CheckPassword(pw string, avoid ...string) string {
	if !utf8.ValidString(pw) {
		return "the password is not valid text"
	}
	if len(pw) > MaxPasswordLen {
		return "the password is longer than 256 bytes"
	}
	if utf8.RuneCountInString(pw) < MinPasswordLen {
		return "the password must have at least 10 characters"
	}
	var lower, upper, digit, other bool
	for _, r := range pw {
		switch {
		case unicode.IsControl(r):
			return "the password may not contain control characters"
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		default:
			other = true
		}
	}
	classes := 0
	for _, b := range []bool{lower, upper, digit, other} {
		if b {
			classes++
		}
	}
	if classes < 2 {
		return "the password must mix at least two kinds of characters (lower case, upper case, digits, symbols)"
	}
	n := squash(pw)
	for _, a := range avoid {
		if a != "" && squash(a) == n {
			return "the password may not be the activation code or the account name"
		}
	}
	return ""
}

// squash folds case and drops separators, so "abcd-efgh" and "ABCDEFGH"
// compare equal.
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' || r == '_' || r == '.' {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}
