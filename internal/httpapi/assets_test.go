package httpapi_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"likeness"
	"likeness/internal/likenesstest"
	"likeness/internal/vault"
)

// upload posts media as role and returns the response.
func (e *env) upload(role likeness.Role, sub, query, ctype string, body []byte) resp {
	e.t.Helper()
	if body == nil {
		body = []byte{}
	}
	return e.raw(role, "POST", "/v1/subjects/"+sub+"/assets?"+query, ctype, body)
}

// wav is a real WAV recording whose samples spell marker.
var wav = likenesstest.WAV

// gpsJPEG returns a real JPEG carrying an EXIF segment with GPS position and
// a camera serial number, both containing marker.
func gpsJPEG(t *testing.T, marker string) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for x := range 32 {
		for y := range 24 {
			img.Set(x, y, color.RGBA{uint8(x * 8), uint8(y * 10), 128, 255})
		}
	}
	var plain bytes.Buffer
	if err := jpeg.Encode(&plain, img, nil); err != nil {
		t.Fatal(err)
	}
	// TIFF (big endian): IFD0 {GPSInfo → GPS IFD, BodySerialNumber}, GPS IFD {GPSLatitudeRef, GPSLatitude}.
	be := binary.BigEndian
	put := func(w *bytes.Buffer, vs ...any) {
		for _, v := range vs {
			binary.Write(w, be, v)
		}
	}
	var tiff bytes.Buffer
	tiff.WriteString("MM\x00\x2a")
	binary.Write(&tiff, be, uint32(8))
	serial := marker + "-SERIAL\x00"
	ifd0 := 8
	gpsIFD := ifd0 + 2 + 2*12 + 4
	serialOff := gpsIFD + 2 + 2*12 + 4
	latOff := serialOff + len(serial)
	binary.Write(&tiff, be, uint16(2))
	put(&tiff, uint16(0x8825), uint16(4), uint32(1), uint32(gpsIFD))
	put(&tiff, uint16(0xA431), uint16(2), uint32(len(serial)), uint32(serialOff))
	binary.Write(&tiff, be, uint32(0))
	binary.Write(&tiff, be, uint16(2))
	put(&tiff, uint16(1), uint16(2), uint32(2), uint32(0x4e000000)) // "N"
	put(&tiff, uint16(2), uint16(5), uint32(3), uint32(latOff))
	binary.Write(&tiff, be, uint32(0))
	tiff.WriteString(serial)
	binary.Write(&tiff, be, []uint32{48, 1, 51, 1, 24, 1})
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, plain.Bytes()[:2]...)
	out = append(out, seg...)
	return append(out, plain.Bytes()[2:]...)
}

func (e *env) content(role likeness.Role, asset, query string) resp {
	e.t.Helper()
	return e.call(role, "GET", "/v1/assets/"+asset+"/content?"+query, nil)
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func TestUploadWithoutConsentLeavesNoTrace(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("nc", "EU-DE")
	e.grant(sub, "voice-transcription")
	blobs := filepath.Join(e.dir, "blobs")
	before := countFiles(t, blobs)
	body := wav("no-consent", 100)
	for name, q := range map[string]string{
		"no consent to the purpose":     "purpose=ai-training&category=voice",
		"category not covered by grant": "purpose=voice-transcription&category=image",
	} {
		r := e.upload(likeness.RoleCollector, sub, q, "audio/wav", body)
		if r.status != 403 {
			t.Fatalf("%s: status %d %s, want 403", name, r.status, r.body)
		}
		var eb struct {
			Error struct{ Reasons []string }
		}
		r.json(t, &eb)
		if len(eb.Error.Reasons) == 0 {
			t.Fatalf("%s: 403 without reason codes: %s", name, r.body)
		}
	}
	if after := countFiles(t, blobs); after != before {
		t.Fatalf("blob files %d → %d: a refused upload left bytes behind", before, after)
	}
	var list struct{ Assets []likeness.Asset }
	e.call(likeness.RoleAuditor, "GET", "/v1/subjects/"+sub+"/assets", nil).json(t, &list)
	if len(list.Assets) != 0 {
		t.Fatalf("refused uploads created %d asset rows", len(list.Assets))
	}
}

func TestUploadRoundTripsOnlyForDeclaredRecipientAndConsentedPurpose(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			sub := e.subject("rt", "EU-DE")
			e.grant(sub, "ai-training")
			body := wav("round-trip", 50000) // ~500 KB
			r := e.upload(likeness.RoleCollector, sub, "purpose=ai-training&category=voice", "audio/wav", body)
			if r.status != 201 {
				t.Fatalf("upload: %d %s", r.status, r.body)
			}
			var a likeness.Asset
			r.json(t, &a)
			if a.ID == "" || a.SHA256 == "" || a.Size != int64(len(body)) || a.RetainUntil.IsZero() {
				t.Fatalf("asset: %+v", a)
			}
			// The collector that put it in may not take it out: that would
			// export a person's media by another route.
			for _, role := range []likeness.Role{likeness.RoleCollector, likeness.RoleAuditor} {
				if got := e.content(role, a.ID, "purpose=ai-training&recipient=acme-ml"); got.status != 403 || bytes.Contains(got.body, body[:64]) {
					t.Errorf("content for %s: %d, want 403 and no media", role, got.status)
				}
			}
			got := e.content(likeness.RolePipeline, a.ID, "purpose=ai-training&recipient=acme-ml")
			if got.status != 200 || !bytes.Equal(got.body, body) {
				t.Fatalf("content for a declared recipient: %d, %d bytes (want %d, bit-exact)", got.status, len(got.body), len(body))
			}
			for q, reason := range map[string]string{
				"purpose=ai-training&recipient=acme-marketing":        "recipient_not_declared",
				"purpose=marketing-personalization&recipient=acme-ml": "no_consent",
				"purpose=ai-training&recipient=acme-ml&country=CN":    "transfer_not_permitted",
			} {
				d := e.content(likeness.RolePipeline, a.ID, q)
				if d.status != 403 || !strings.Contains(string(d.body), reason) {
					t.Errorf("%s: %d %s, want 403 %s", q, d.status, d.body, reason)
				}
			}
			var log struct{ Entries []likeness.AccessEntry }
			e.call(likeness.RoleAuditor, "GET", "/v1/subjects/"+sub+"/access-log", nil).json(t, &log)
			var content []likeness.AccessEntry
			operator := map[string]bool{}
			for _, en := range log.Entries {
				if en.Action == "content" {
					content = append(content, en)
				} else {
					operator[en.Action] = true
				}
				if en.Action == "POST /v1/subjects/{id}/assets" && en.Purpose != "ai-training" {
					t.Errorf("the upload's entry names purpose %q, want the one it was collected for", en.Purpose)
				}
			}
			if len(content) != 4 {
				t.Fatalf("access log has %d content entries, want 4 (1 allowed, 3 denied)", len(content))
			}
			// The collector's changes are on record too.
			if !operator["POST /v1/subjects/{id}/consents"] || !operator["POST /v1/subjects/{id}/assets"] {
				t.Fatalf("operator actions on the subject missing from the log: %v", operator)
			}
			allowed := 0
			for _, en := range content {
				if en.Allow {
					allowed++
				}
				if en.KeyID == "" || en.Role != likeness.RolePipeline || en.AssetID != a.ID {
					t.Fatalf("entry lacks who/what: %+v", en)
				}
			}
			if allowed != 1 {
				t.Fatalf("%d allowed entries, want 1", allowed)
			}
			// A withdrawal stops content at once: the asset is erased.
			e.call(likeness.RoleCollector, "POST", "/v1/subjects/"+sub+"/consents/ai-training/withdraw", nil)
			if d := e.content(likeness.RolePipeline, a.ID, "purpose=ai-training&recipient=acme-ml"); d.status != 410 {
				t.Fatalf("content after withdrawal: %d", d.status)
			}
		})
	}
}

func TestUploadBadInputIsRefusedAndStoresNothing(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("bad", "EU-DE")
	e.grant(sub, "ai-training")
	blobs := filepath.Join(e.dir, "blobs")
	script := []byte("#!/bin/sh\nrm -rf / # pretending to be a photo\n" + strings.Repeat(" ", 600))
	cases := []struct {
		name, query, ctype string
		body               []byte
		status             int
	}{
		{"script declared as JPEG", "purpose=ai-training&category=image", "image/jpeg", script, 415},
		{"WAV declared as JPEG", "purpose=ai-training&category=image", "image/jpeg", wav("x", 100), 415},
		{"image as voice", "purpose=ai-training&category=voice", "image/jpeg", gpsJPEG(t, "m"), 415},
		{"no content type", "purpose=ai-training&category=voice", "", wav("x", 100), 415},
		{"empty body", "purpose=ai-training&category=voice", "audio/wav", nil, 400},
		{"unknown purpose", "purpose=nope&category=voice", "audio/wav", wav("x", 100), 400},
		{"unknown category", "purpose=ai-training&category=smell", "audio/wav", wav("x", 100), 400},
		{"too large", "purpose=ai-training&category=voice", "audio/wav", wav("big", 3<<20), 413},
		{"truncated JPEG", "purpose=ai-training&category=image", "image/jpeg", gpsJPEG(t, "m")[:300], 400},
		{"parent of nobody", "purpose=ai-training&category=voice&derived_from=ast_aaaaaaaaaaaaaaaaaaaaaaaaaa", "audio/wav", wav("x", 100), 400},
		{"two categories", "purpose=ai-training&category=voice&category=image", "audio/wav", wav("x", 100), 400},
		{"unknown parameter", "purpose=ai-training&category=voice&retention=forever", "audio/wav", wav("x", 100), 400},
	}
	for _, c := range cases {
		r := e.upload(likeness.RoleCollector, sub, c.query, c.ctype, c.body)
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
			continue
		}
		r.errCode(t)
	}
	if n := countFiles(t, blobs); n != 0 {
		t.Fatalf("%d blob files after refused uploads", n)
	}
	if as, _ := e.store.SubjectAssets(context.Background(), sub); len(as) != 0 {
		t.Fatalf("%d asset rows after refused uploads", len(as))
	}
}

func TestImageMetadataIsStrippedOnIngest(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("gps", "EU-DE")
	e.grant(sub, "ai-training")
	const marker = "GPS-48.8584N-CAM"
	in := gpsJPEG(t, marker)
	if !bytes.Contains(in, []byte(marker)) || !bytes.Contains(in, []byte("Exif")) {
		t.Fatal("test image lacks its EXIF")
	}
	r := e.upload(likeness.RoleCollector, sub, "purpose=ai-training&category=image", "image/jpeg", in)
	if r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	var a likeness.Asset
	r.json(t, &a)
	out := e.content(likeness.RolePipeline, a.ID, "purpose=ai-training").body
	if bytes.Contains(out, []byte(marker)) || bytes.Contains(out, []byte("Exif")) {
		t.Fatal("EXIF/GPS/serial came back from the vault")
	}
	if _, err := jpeg.Decode(bytes.NewReader(out)); err != nil {
		t.Fatalf("stripped image does not decode: %v", err)
	}
	if a.OriginalSHA256 == a.SHA256 || a.OriginalSHA256 == "" {
		t.Fatalf("original hash %q vs stored %q: provenance of the original must be kept", a.OriginalSHA256, a.SHA256)
	}
}

func TestPlaintextNeverRests(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("marker", "EU-DE")
	e.grant(sub, "ai-training")
	const marker = "PLAINTEXT-MARKER-7f3a9c"
	if r := e.upload(likeness.RoleCollector, sub, "purpose=ai-training&category=voice", "audio/wav", wav(marker, 2000)); r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	if scanFor(t, e.store, marker) {
		t.Fatal("a database row holds the media in plaintext")
	}
	filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, []byte(marker)) {
			t.Errorf("%s holds the media in plaintext", path)
		}
		return nil
	})
}

func TestDerivedAssetsFollowTheirParentOnErasure(t *testing.T) {
	e := newEnv(t, "")
	sub := e.subject("derive", "EU-DE")
	e.grant(sub, "voice-transcription")
	var parent, child likeness.Asset
	e.upload(likeness.RoleCollector, sub, "purpose=voice-transcription&category=voice", "audio/wav", wav("p", 100)).json(t, &parent)
	r := e.upload(likeness.RoleCollector, sub, "purpose=voice-transcription&category=transcript&derived_from="+parent.ID, "text/plain", []byte("hello, this is a transcript"))
	if r.status != 201 {
		t.Fatalf("derived upload: %d %s", r.status, r.body)
	}
	r.json(t, &child)
	if d := e.call(likeness.RoleAdmin, "DELETE", "/v1/assets/"+parent.ID, nil); d.status != 200 {
		t.Fatalf("erase asset: %d %s", d.status, d.body)
	}
	for _, id := range []string{parent.ID, child.ID} {
		if g := e.call(likeness.RoleAuditor, "GET", "/v1/assets/"+id, nil); g.status != 410 {
			t.Errorf("asset %s after erasing the parent: %d, want 410", id, g.status)
		}
	}
	if n := countFiles(t, filepath.Join(e.dir, "blobs")); n != 0 {
		t.Fatalf("%d blobs left after erasing parent and child", n)
	}
	d := e.decide(map[string]any{"asset_id": child.ID, "purpose": "voice-transcription", "data_category": "transcript"})
	if d.Allow || !has(d.Reasons, "asset_erased") {
		t.Fatalf("decision on erased derived asset: %+v", d)
	}
}

// hookReader runs hook once, after the first bytes of the body were read:
// a change that lands while an upload streams in.
type hookReader struct {
	r    io.Reader
	hook func()
	done bool
}

func (h *hookReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if !h.done && n > 0 {
		h.done = true
		h.hook()
	}
	return n, err
}

func TestUploadRacingAWithdrawalOrErasureKeepsNothing(t *testing.T) {
	for name, change := range map[string]func(e *env, sub string){
		"withdrawal": func(e *env, sub string) {
			if _, err := e.svc.Withdraw(context.Background(), &likeness.WithdrawRequest{SubjectID: sub, Purpose: "ai-training"}); err != nil {
				t.Fatal(err)
			}
		},
		"erasure": func(e *env, sub string) {
			if _, err := e.d.Erasure.EraseSubject(context.Background(), sub); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, "")
			sub := e.subject("race-"+name, "EU-DE")
			e.grant(sub, "ai-training")
			body := &hookReader{r: bytes.NewReader(wav("race", 100000)), hook: func() { change(e, sub) }}
			_, err := e.vault.Ingest(context.Background(), &vault.Upload{SubjectID: sub, Purpose: "ai-training", Category: "voice", ContentType: "audio/wav", Body: body})
			if code := likeness.ErrorCode(err); code != likeness.EFORBIDDEN && code != likeness.EGONE {
				t.Fatalf("upload during %s: %v, want refused", name, err)
			}
			if n := countFiles(t, filepath.Join(e.dir, "blobs")); n != 0 {
				t.Fatalf("%d blobs kept", n)
			}
			assets, _ := e.store.SubjectAssets(context.Background(), sub)
			for _, a := range assets {
				if !a.Erased() {
					t.Fatalf("asset %s kept live after the %s", a.ID, name)
				}
			}
		})
	}
}
