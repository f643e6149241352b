package web

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"strings"
	"testing"
)

func TestQRDataURL(t *testing.T) {
	t.Parallel()
	link := "https://gateway.example.gov/portal/verify#t=" + strings.Repeat("eyJhbGciOiJFUzI1NiJ9", 100)
	u, err := QRDataURL(link)
	if err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(string(u), "data:image/png;base64,"))
	if err != nil || !strings.HasPrefix(string(u), "data:image/png;base64,") {
		t.Fatalf("not a PNG data URL: %.40s… %v", u, err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if w := img.Bounds().Dx(); w < 512 {
		t.Errorf("QR image %d px wide, want at least 512", w)
	}
	// Past what a QR code holds (2,953 bytes at low correction) it fails,
	// so the page offers the link alone.
	if _, err := QRDataURL(strings.Repeat("x", 3000)); err == nil {
		t.Error("a 3,000-byte payload made a QR code")
	}
}
