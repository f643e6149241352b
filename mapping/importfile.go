package mapping

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// ImportFormat is the format of an import file.
type ImportFormat string

// Import file formats.
const (
	FormatCSV   ImportFormat = "csv"
	FormatJSONL ImportFormat = "jsonl"
)

// Reasons of rejected import rows besides the document Reasons.
const (
	RejectSyntax    = "syntax"    // the row is not a CSV record or JSON object of the expected shape
	RejectColumns   = "columns"   // the type or number is missing
	RejectRef       = "ref"       // the external reference is too long or holds control characters
	RejectDuplicate = "duplicate" // the same document appears on an earlier row of the file
	RejectConflict  = "conflict"  // the ledger refused the row (its indexes map to different eIDs)
)

// maxExternalRefBytes bounds the optional reference column.
const maxExternalRefBytes = 128

// maxJSONLineBytes bounds one line of a JSON lines file.
const maxJSONLineBytes = 64 << 10

// importRow is one data row of an import file.
type importRow struct {
	line   int64  // the line the row starts on, 1-based
	in     Input  // when bad is empty
	ref    string // the external reference
	bad    string // a reject reason when the row could not be read
	badMsg string
}

// rowReader reads the data rows of an import file one by one; next returns
// io.EOF after the last. A row that cannot be read comes back with bad set;
// only errors of the underlying reader end the file early.
type rowReader interface {
	next(*importRow) error
}

// DetectImportFormat picks the format from the file name's extension
// (.csv, .txt; .jsonl, .ndjson, .json) and otherwise from the content: a
// first non-blank character "{" means JSON lines.
func DetectImportFormat(fileName string, head []byte) ImportFormat {
	switch strings.ToLower(filepath.Ext(fileName)) {
	case ".csv", ".txt":
		return FormatCSV
	case ".jsonl", ".ndjson", ".json":
		return FormatJSONL
	}
	head = bytes.TrimPrefix(head, utf8BOM)
	head = bytes.TrimLeft(head, " \t\r\n")
	if len(head) > 0 && head[0] == '{' {
		return FormatJSONL
	}
	return FormatCSV
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// skipBOM drops a UTF-8 byte order mark at the start of br.
func skipBOM(br *bufio.Reader) error {
	head, err := br.Peek(3)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if bytes.Equal(head, utf8BOM) {
		_, _ = br.Discard(3)
	}
	return nil
}

func newRowReader(format ImportFormat, r io.Reader) (rowReader, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	if err := skipBOM(br); err != nil {
		return nil, err
	}
	if format == FormatJSONL {
		return &jsonlReader{br: br}, nil
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.TrimLeadingSpace = true
	return &csvReader{cr: cr, cols: defaultColumns}, nil
}

// csvColumns are the positions of the fields, -1 when absent; impliedType
// is the document type of every row when there is no type column and the
// number column's name says which type it holds ("idcard").
type csvColumns struct {
	typ, number, ref, country int
	impliedType               DocType
}

var defaultColumns = csvColumns{typ: 0, number: 1, ref: 2, country: 3}

// headerNames maps the accepted header names to their column.
var headerNames = map[string]string{
	"type": "type", "document_type": "type", "doc_type": "type", "document type": "type", "doctype": "type",
	"number": "number", "document_number": "number", "doc_number": "number", "document number": "number",
	"ref": "ref", "reference": "ref", "external_ref": "ref", "external reference": "ref", "external_reference": "ref", "id": "ref",
	"country": "country", "issuing_state": "country", "issuing state": "country", "nationality": "country",
}

// residentNumberNames are header names of a column of resident identity
// card numbers: a file with one and no type column holds cn-resident rows.
var residentNumberNames = map[string]bool{
	"idcard": true, "id_card": true, "id card": true, "id_no": true, "idno": true, "id_number": true, "id number": true,
	"身份证": true, "身份证号": true, "身份证号码": true, "公民身份号码": true,
}

type csvReader struct {
	cr      *csv.Reader
	cols    csvColumns
	started bool
}

func (c *csvReader) next(row *importRow) error {
	for {
		rec, err := c.cr.Read()
		if err == io.EOF {
			return io.EOF
		}
		*row = importRow{}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			// The reader has consumed the bad record; carry on after it.
			row.line = int64(pe.StartLine)
			row.bad, row.badMsg = RejectSyntax, "not a CSV record: "+csvProblem(pe.Err)
			c.started = true
			return nil
		}
		if err != nil {
			return err
		}
		line, _ := c.cr.FieldPos(0)
		row.line = int64(line)
		if !c.started {
			c.started = true
			if cols, ok := csvHeader(rec); ok {
				c.cols = cols
				continue
			}
		}
		if blankRecord(rec) {
			continue
		}
		row.in.Type = DocType(strings.TrimSpace(field(rec, c.cols.typ)))
		if c.cols.typ < 0 {
			row.in.Type = c.cols.impliedType
		}
		row.in.Number = field(rec, c.cols.number)
		row.in.Country = strings.TrimSpace(field(rec, c.cols.country))
		row.ref = strings.TrimSpace(field(rec, c.cols.ref))
		return nil
	}
}

// csvProblem describes a CSV syntax error without quoting the input.
func csvProblem(err error) string {
	switch {
	case errors.Is(err, csv.ErrBareQuote):
		return "a quote inside an unquoted field"
	case errors.Is(err, csv.ErrQuote):
		return "a quoted field is not closed"
	}
	return "malformed"
}

func field(rec []string, i int) string {
	if i < 0 || i >= len(rec) {
		return ""
	}
	return rec[i]
}

func blankRecord(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// csvHeader recognises a header record: every field is a known column
// name, and type and number are among them; or a first line that cannot be
// data — two fields or more, no digit anywhere (every document number has
// one), the first field no document type — whose known names (and a
// resident card column such as "idcard", which implies the type) place the
// columns. A header of names only unknown keeps the default columns.
func csvHeader(rec []string) (csvColumns, bool) {
	cols := csvColumns{typ: -1, number: -1, ref: -1, country: -1}
	known, digits := 0, false
	for i, f := range rec {
		f = strings.ToLower(strings.TrimSpace(f))
		digits = digits || strings.ContainsAny(f, "0123456789")
		name, ok := headerNames[f]
		if !ok && residentNumberNames[f] {
			name, ok = "number", true
			cols.impliedType = CNResident
		}
		if !ok {
			continue
		}
		known++
		switch name {
		case "type":
			cols.typ = i
		case "number":
			cols.number = i
		case "ref":
			cols.ref = i
		case "country":
			cols.country = i
		}
	}
	if known == len(rec) && cols.typ >= 0 && cols.number >= 0 {
		return cols, true
	}
	if len(rec) < 2 || digits || DocType(strings.TrimSpace(rec[0])).Known() {
		return defaultColumns, false
	}
	if cols.number < 0 {
		return defaultColumns, true
	}
	if cols.typ >= 0 {
		cols.impliedType = ""
	}
	return cols, true
}

type jsonlReader struct {
	br   *bufio.Reader
	line int64
}

// jsonRow is one JSON lines record.
type jsonRow struct {
	Type    *string `json:"type"`
	Number  *string `json:"number"`
	Country *string `json:"country"`
	Ref     *string `json:"ref"`
}

func (j *jsonlReader) next(row *importRow) error {
	for {
		line, tooLong, err := j.readLine()
		if err != nil {
			return err
		}
		j.line++
		*row = importRow{line: j.line}
		if tooLong {
			row.bad, row.badMsg = RejectSyntax, "the line is longer than 64 KiB"
			return nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var v jsonRow
		if !utf8.Valid(line) || json.Unmarshal(line, &v) != nil {
			// encoding/json errors may quote the input; describe it instead.
			row.bad, row.badMsg = RejectSyntax, `not a JSON object with string fields "type", "number", "country" and "ref"`
			return nil
		}
		if v.Type != nil {
			row.in.Type = DocType(strings.TrimSpace(*v.Type))
		}
		if v.Number != nil {
			row.in.Number = *v.Number
		}
		if v.Country != nil {
			row.in.Country = strings.TrimSpace(*v.Country)
		}
		if v.Ref != nil {
			row.ref = strings.TrimSpace(*v.Ref)
		}
		return nil
	}
}

// readLine returns the next line without its terminator; a line longer
// than maxJSONLineBytes is skipped and reported as tooLong.
func (j *jsonlReader) readLine() (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		part, err := j.br.ReadSlice('\n')
		switch {
		case err == nil:
			if tooLong || len(buf)+len(part) > maxJSONLineBytes+1 {
				return nil, true, nil
			}
			if buf != nil {
				return append(buf, part...), false, nil
			}
			return part, false, nil
		case errors.Is(err, bufio.ErrBufferFull):
			if !tooLong {
				buf = append(buf, part...)
				if len(buf) > maxJSONLineBytes {
					buf, tooLong = nil, true
				}
			}
		case errors.Is(err, io.EOF):
			if tooLong {
				return nil, true, nil
			}
			buf = append(buf, part...)
			if len(buf) == 0 {
				return nil, false, io.EOF
			}
			if len(buf) > maxJSONLineBytes {
				return nil, true, nil
			}
			return buf, false, nil
		default:
			return nil, false, err
		}
	}
}

// checkRow checks the parts of a row that are not the document itself.
func checkRow(row *importRow) (reason, msg string) {
	if row.bad != "" {
		return row.bad, row.badMsg
	}
	if row.in.Type == "" || strings.TrimSpace(row.in.Number) == "" {
		return RejectColumns, "a row needs a document type and a number"
	}
	if len(row.ref) > maxExternalRefBytes {
		return RejectRef, "the reference is longer than 128 bytes"
	}
	if !utf8.ValidString(row.ref) {
		return RejectRef, "the reference is not valid UTF-8"
	}
	for _, r := range row.ref {
		if r < 0x20 || r == 0x7f {
			return RejectRef, "the reference holds a control character"
		}
	}
	return "", ""
}
