package mapping

import (
	"strings"
	"unicode/utf8"
)

// fold normalises typed input: full-width forms (U+FF01-U+FF5E) become their
// ASCII counterparts and the ideographic space U+3000 a space; spaces, tabs,
// line breaks and hyphens/dashes are removed; ASCII letters are upper-cased.
// Other characters are kept as they are for the parsers to reject.
func fold(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || c <= ' ' || c == '-' || ('a' <= c && c <= 'z') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			r -= 0xFEE0
		case r == 0x3000:
			r = ' '
		}
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == 0xA0:
			continue
		case r == '-' || (r >= 0x2010 && r <= 0x2015) || r == 0x2212:
			continue
		case 'a' <= r && r <= 'z':
			r -= 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Mask replaces all but a few leading and trailing characters of s with "*":
// 4+4 of 15 or more characters (1101**********002X), 2+2 of 9 to 14
// (E1*****78), 1+1 of 6 to 8, and every character of anything shorter. At
// least half of the characters are always hidden.
func Mask(s string) string {
	n := utf8.RuneCountInString(s)
	keep := 0
	switch {
	case n >= 15:
		keep = 4
	case n >= 9:
		keep = 2
	case n >= 6:
		keep = 1
	}
	var b strings.Builder
	b.Grow(n)
	i := 0
	for _, r := range s {
		if i < keep || i >= n-keep {
			b.WriteRune(r)
		} else {
			b.WriteByte('*')
		}
		i++
	}
	return b.String()
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isUpperLetter(c byte) bool { return 'A' <= c && c <= 'Z' }

// onlyBytes reports whether every byte of s is an ASCII digit, an upper-case
// letter when letters is true, or one of extra.
func onlyBytes(s string, letters bool, extra string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
		case letters && isUpperLetter(c):
		case c < utf8.RuneSelf && strings.IndexByte(extra, c) >= 0:
		default:
			return false
		}
	}
	return true
}
