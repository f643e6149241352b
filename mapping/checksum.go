package mapping

// gb11643Check returns the GB 11643-1999 check character (ISO 7064
// MOD 11-2) of the 17 digits in body. body must be 17 ASCII digits.
func gb11643Check(body string) byte {
	// The weights are 2^(17-i) mod 11.
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(body[i]-'0') * weights[i]
	}
	return "10X98765432"[sum%11]
}

// icaoCheckDigit is the ICAO 9303 check digit of s: characters valued 0-9
// for digits, 10-35 for A-Z and 0 for the filler "<", weighted 7, 3, 1
// repeating, summed modulo 10. s must hold only those characters.
func icaoCheckDigit(s string) byte {
	weights := [3]int{7, 3, 1}
	sum := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		v := 0
		switch {
		case '0' <= c && c <= '9':
			v = int(c - '0')
		case 'A' <= c && c <= 'Z':
			v = int(c-'A') + 10
		}
		sum += v * weights[i%3]
	}
	return byte('0' + sum%10)
}
