package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"time"
)

// ResidentNumber returns the i-th of a family of valid, distinct GB 11643
// resident identity numbers (Beijing Xicheng, born from 1950 on, 900 per
// birth day): n = 1 000 000 spans about three years of birth dates.
func ResidentNumber(i int) string {
	birth := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i/900)
	body := "110102" + birth.Format("20060102") + strconv.Itoa(100+i%900)
	return body + string(gb11643Check(body))
}

// gb11643Check is the ISO 7064 MOD 11-2 check character of 17 digits.
func gb11643Check(body string) byte {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 17 {
		sum += int(body[i]-'0') * weights[i]
	}
	return "10X98765432"[sum%11]
}

// WriteResidentCSV writes an import file of n valid, distinct cn-resident
// rows (type, number, ref) to path.
func WriteResidentCSV(path string, n int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "type,number,ref")
	for i := range n {
		fmt.Fprintf(w, "cn-resident,%s,B%d\n", ResidentNumber(i), i)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
