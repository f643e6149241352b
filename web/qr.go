package web

import (
	"encoding/base64"

	qrcode "github.com/skip2/go-qrcode"
)

// QRDataURL renders s as a QR code (PNG, low error correction so a
// presentation link fits) in a data: URL the pages' CSP allows as an
// image. It fails when s is too long for a QR code.
func QRDataURL(s string) (string, error) {
	png, err := qrcode.Encode(s, qrcode.Low, 512)
	if err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), nil
}
