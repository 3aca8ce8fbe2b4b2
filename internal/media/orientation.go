package media

import (
	"encoding/binary"
	"hash/crc32"
)

// Orientation returns the EXIF Orientation (1–8) of an image of the given
// media type, as a display applies it before showing the pixels: a JPEG's
// from its EXIF APP1 segment, a PNG's from its eXIf chunk, a WebP's from
// its EXIF chunk. It is 1 when there is none, the file cannot be read that
// far, or the type carries no orientation likeness reads. Whoever looks at
// the pixels (a face detector) must apply it too.
//
// HEIF carries its rotation in irot/imir item properties instead; nothing
// in likeness decodes HEIF pixels, so there is no reader for them here.
func Orientation(mediaType string, b []byte) int {
	switch mediaType {
	case "image/jpeg":
		return JPEGOrientation(b)
	case "image/png":
		return PNGOrientation(b)
	case "image/webp":
		return WebPOrientation(b)
	}
	return 1
}

// JPEGOrientation returns the EXIF Orientation (1–8) of a JPEG, read from
// the first EXIF APP1 segment before the image data, or 1 when there is
// none or the file cannot be read that far.
func JPEGOrientation(b []byte) int {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return 1
	}
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xFF {
			return 1
		}
		m := b[i+1]
		switch {
		case m == 0xFF: // fill byte
			i++
			continue
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // no length
			i += 2
			continue
		case m == 0xDA || m == 0xD9: // image data or end: no EXIF before it
			return 1
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		if n < 2 || i+2+n > len(b) {
			return 1
		}
		seg := b[i+4 : i+2+n]
		if m == 0xE1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			return orientationOr1(seg[6:])
		}
		i += 2 + n
	}
	return 1
}

// PNGOrientation returns the EXIF Orientation (1–8) of a PNG, read from its
// eXIf chunk (whose CRC must hold), or 1 when there is none or the file
// cannot be read that far.
func PNGOrientation(b []byte) int {
	if len(b) < 8 || string(b[:8]) != "\x89PNG\r\n\x1a\n" {
		return 1
	}
	for i := 8; i+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[i:]))
		if n > len(b)-i-12 {
			return 1
		}
		typ, data := string(b[i+4:i+8]), b[i+8:i+8+n]
		switch typ {
		case "eXIf":
			if crc32.ChecksumIEEE(b[i+4:i+8+n]) != binary.BigEndian.Uint32(b[i+8+n:]) {
				return 1
			}
			return orientationOr1(data)
		case "IEND":
			return 1
		}
		i += 12 + n
	}
	return 1
}

// WebPOrientation returns the EXIF Orientation (1–8) of a WebP, read from
// its EXIF chunk (a TIFF structure, which some writers prefix with
// "Exif\0\0" as in a JPEG), or 1 when there is none or the file cannot be
// read that far.
func WebPOrientation(b []byte) int {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return 1
	}
	for i := 12; i+8 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		if n > len(b)-i-8 {
			return 1
		}
		if string(b[i:i+4]) == "EXIF" {
			return orientationOr1(webpEXIF(b[i+8 : i+8+n]))
		}
		i += 8 + n + n&1
	}
	return 1
}

// webpEXIF is the TIFF structure of a WebP EXIF chunk's payload.
func webpEXIF(p []byte) []byte {
	if len(p) >= 6 && string(p[:6]) == "Exif\x00\x00" {
		return p[6:]
	}
	return p
}

// orientationOr1 is exifOrientation, 1 where it finds none.
func orientationOr1(t []byte) int {
	if o := exifOrientation(t); o != 0 {
		return o
	}
	return 1
}

// orientationTIFF is the smallest TIFF structure holding EXIF Orientation
// o and nothing else: what the strippers keep of a file's EXIF.
func orientationTIFF(o int) []byte {
	t := []byte("MM\x00\x2a\x00\x00\x00\x08" + // big-endian TIFF header, IFD0 at 8
		"\x00\x01" + // one entry
		"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x00\x00\x00" + // Orientation SHORT×1
		"\x00\x00\x00\x00") // no next IFD
	t[8+2+9] = byte(o)
	return t
}
