package anonymize

import (
	"image"

	"github.com/disintegration/imaging"
)

// Upright applies an EXIF orientation (1–8) to img, giving the pixels as a
// display shows them. Faces must be searched for, and the result written,
// in this frame: a phone portrait is stored sideways with orientation 6,
// and a detector looking at the stored pixels sees a face on its side.
func Upright(img image.Image, orientation int) image.Image {
	switch orientation {
	case 2:
		return imaging.FlipH(img)
	case 3:
		return imaging.Rotate180(img)
	case 4:
		return imaging.FlipV(img)
	case 5:
		return imaging.Transpose(img)
	case 6:
		return imaging.Rotate270(img) // 90° clockwise
	case 7:
		return imaging.Transverse(img)
	case 8:
		return imaging.Rotate90(img) // 90° counter-clockwise
	}
	return img
}
