package web

import (
	"encoding/base64"
	"html/template"

	qrcode "github.com/skip2/go-qrcode"
)

// QRDataURL renders s as a QR code (PNG, low error correction so a
// presentation link fits) in a data: URL the pages' CSP allows as an
// image, typed as a URL templates may place in src (the data is ours). It
// fails when s is too long for a QR code.
func QRDataURL(s string) (template.URL, error) {
	png, err := qrcode.Encode(s, qrcode.Low, 512)
	if err != nil {
		return "", err
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)), nil
}
