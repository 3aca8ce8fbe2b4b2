package media

// JPEGOrientation returns the EXIF Orientation (1–8) of a JPEG, read from
// the first EXIF APP1 segment before the image data, or 1 when there is
// none or the file cannot be read that far. It is what a display applies
// before showing the pixels, so whoever looks at the pixels (a face
// detector) must apply it too.
//
// HEIF carries its rotation in irot/imir item properties instead; nothing
// in likeness decodes HEIF pixels, so there is no reader for them here.
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
			if o := exifOrientation(seg[6:]); o != 0 {
				return o
			}
			return 1
		}
		i += 2 + n
	}
	return 1
}
