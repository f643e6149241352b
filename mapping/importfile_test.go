package mapping

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDetectImportFormat(t *testing.T) {
	tests := []struct {
		name, head string
		want       ImportFormat
	}{
		{"a.csv", `{"type":"x"}`, FormatCSV},
		{"a.CSV", "", FormatCSV},
		{"a.jsonl", "type,number", FormatJSONL},
		{"a.ndjson", "", FormatJSONL},
		{"upload", "\ufeff  {\"type\":\"cn-resident\"}", FormatJSONL},
		{"upload", "cn-resident,110102195001022006", FormatCSV},
		{"", "", FormatCSV},
	}
	for _, tc := range tests {
		if got := DetectImportFormat(tc.name, []byte(tc.head)); got != tc.want {
			t.Errorf("DetectImportFormat(%q, %q) = %s, want %s", tc.name, tc.head, got, tc.want)
		}
	}
}

func readAllRows(t testing.TB, format ImportFormat, data string) []importRow {
	t.Helper()
	rr, err := newRowReader(format, strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var rows []importRow
	for {
		var row importRow
		if err := rr.next(&row); err != nil {
			break
		}
		rows = append(rows, row)
	}
	return rows
}

func TestCSVColumns(t *testing.T) {
	tests := []struct {
		name, data string
		want       []importRow
	}{
		{"no header", "cn-resident,N1,R1\npassport,N2,R2,USA\n",
			[]importRow{{line: 1, in: Input{Type: "cn-resident", Number: "N1"}, ref: "R1"}, {line: 2, in: Input{Type: "passport", Number: "N2", Country: "USA"}, ref: "R2"}}},
		{"semicolons are not separators", "number;x\n", []importRow{{line: 1, in: Input{Type: "number;x"}}}},
		{"named columns", "Country,Number,Document_Type\nUSA,N1,passport\n",
			[]importRow{{line: 2, in: Input{Type: "passport", Number: "N1", Country: "USA"}}}},
		{"bom and crlf", "\ufefftype,number\r\ncn-resident, N1 \r\n\r\n",
			[]importRow{{line: 2, in: Input{Type: "cn-resident", Number: "N1 "}}}},
		{"quoted field with a line break", "cn-resident,\"N\n1\",R\ncn-resident,N2\n",
			[]importRow{{line: 1, in: Input{Type: "cn-resident", Number: "N\n1"}, ref: "R"}, {line: 3, in: Input{Type: "cn-resident", Number: "N2"}}}},
		{"header of a resident card column", "name,idcard\nZhang San,N1\n",
			[]importRow{{line: 2, in: Input{Type: CNResident, Number: "N1"}}}},
		{"header with other names", "Name,Document Type,Document Number,Phone\nZhang,passport,N1,555\n",
			[]importRow{{line: 2, in: Input{Type: Passport, Number: "N1"}}}},
		{"header of unknown names", "given,family\ncn-resident,N1\n",
			[]importRow{{line: 2, in: Input{Type: CNResident, Number: "N1"}}}},
		{"a first row of data without digits is data", "passport,ABC\n",
			[]importRow{{line: 1, in: Input{Type: Passport, Number: "ABC"}}}},
		{"bare quote then more", "cn-resident,N\"1\ncn-resident,N2\n",
			[]importRow{{line: 1, bad: RejectSyntax, badMsg: "not a CSV record: a quote inside an unquoted field"}, {line: 2, in: Input{Type: "cn-resident", Number: "N2"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := readAllRows(t, FormatCSV, tc.data)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestJSONLRows(t *testing.T) {
	long := `{"type":"cn-resident","number":"` + strings.Repeat("1", 70<<10) + `"}`
	data := "\ufeff" + `{"type":"passport","number":"N1","country":"USA","ref":"R1","extra":1}` + "\n\n" +
		long + "\n" + `{"type":"cn-resident","number":123}` + "\n" + `[1,2]` + "\n" + `{"type":"cn-resident","number":"N2"}`
	got := readAllRows(t, FormatJSONL, data)
	if len(got) != 5 {
		t.Fatalf("rows %+v", got)
	}
	if got[0].line != 1 {
		t.Fatalf("got[0].line = %v, want 1; row 1 %+v", got[0].line, got[0])
	}
	if got[0].in != (Input{Type: Passport, Number: "N1", Country: "USA"}) {
		t.Fatalf("got[0].in = %v, want (Input{Type: Passport, Number: \"N1\", Country: \"USA\"}); row 1 %+v", got[0].in, got[0])
	}
	if got[0].ref != "R1" {
		t.Fatalf("got[0].ref = %q, want \"R1\"; row 1 %+v", got[0].ref, got[0])
	}
	for i, line := range []int64{3, 4, 5} {
		if got[i+1].line != line || got[i+1].bad != RejectSyntax || strings.Contains(got[i+1].badMsg, "123") {
			t.Fatalf("row %d: line %d, reject %q %q", line, got[i+1].line, got[i+1].bad, got[i+1].badMsg)
		}
	}
	if got[4].line != 6 {
		t.Fatalf("got[4].line = %v, want 6; last row %+v", got[4].line, got[4])
	}
	if got[4].in.Number != "N2" {
		t.Fatalf("got[4].in.Number = %q, want \"N2\"; last row %+v", got[4].in.Number, got[4])
	}
}

// FuzzImportRows feeds arbitrary files to both readers: they end, number
// lines upwards, and a row they cannot read is rejected with a message
// that quotes none of the input.
func FuzzImportRows(f *testing.F) {
	for _, name := range []string{"import_mixed.csv", "import_mixed.jsonl"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("type,number\n\"unterminated\n"))
	f.Add([]byte("{\"number\": \"9\xff\"}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []ImportFormat{FormatCSV, FormatJSONL} {
			rr, err := newRowReader(format, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			last := int64(0)
			for n := 0; ; n++ {
				if n > len(data)+1 {
					t.Fatalf("%s: more rows than bytes", format)
				}
				var row importRow
				if err := rr.next(&row); err != nil {
					break
				}
				if row.line < 1 || row.line < last {
					t.Fatalf("%s: line %d after %d", format, row.line, last)
				}
				last = row.line
				if row.bad != "" && row.badMsg == "" {
					t.Fatalf("%s: reject without a message", format)
				}
				if reason, msg := checkRow(&row); reason != "" && digits(row.in.Number) >= 6 && strings.Contains(msg, row.in.Number) {
					t.Fatalf("%s: reject message quotes the number", format)
				}
			}
		}
	})
}

func digits(s string) int {
	n := 0
	for _, c := range s {
		if '0' <= c && c <= '9' {
			n++
		}
	}
	return n
}
