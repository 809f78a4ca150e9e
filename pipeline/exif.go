package pipeline

import "encoding/binary"

// jpegOrientation returns the EXIF orientation (1..8) stored in a JPEG's APP1
// segment, or 1 when there is none or it cannot be parsed. It reads only the
// markers before the first scan and never panics on malformed input (fuzzed
// by FuzzDecode and FuzzEXIF).
//
// A dedicated parser is about 80 lines; a general EXIF library would pull in a
// dependency for one tag.
func jpegOrientation(b []byte) int {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return 1
	}
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return 1
		}
		marker := b[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		if marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 {
			i += 2 // markers without a length
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan / end of image: no EXIF after this
			return 1
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return 1
		}
		seg := b[i+4 : i+2+n]
		if marker == 0xE1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			if o := tiffOrientation(seg[6:]); o != 0 {
				return o
			}
		}
		i += 2 + n
	}
	return 1
}

// tiffOrientation reads tag 0x0112 (Orientation) from IFD0 of a TIFF
// structure; 0 means absent or invalid.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(t[2:]) != 42 {
		return 0
	}
	off := bo.Uint32(t[4:])
	if off < 8 || uint64(off)+2 > uint64(len(t)) {
		return 0
	}
	p := int(off)
	count := int(bo.Uint16(t[p:]))
	p += 2
	for k := 0; k < count; k++ {
		e := p + 12*k
		if e+12 > len(t) {
			return 0
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		typ := bo.Uint16(t[e+2:])
		var v uint32
		switch typ {
		case 3: // SHORT, stored left-justified in the value field
			v = uint32(bo.Uint16(t[e+8:]))
		case 4: // LONG (non-standard but seen in the wild)
			v = bo.Uint32(t[e+8:])
		default:
			return 0
		}
		if v >= 1 && v <= 8 {
			return int(v)
		}
		return 0
	}
	return 0
}

// orient returns img transformed so that it displays upright given the EXIF
// orientation o (1..8, as defined by the EXIF 2.3 specification, table 6 and
// as applied by PIL's ImageOps.exif_transpose).
func orient(img *RGB, o int) *RGB {
	if o <= 1 || o > 8 {
		return img
	}
	w, h := img.W, img.H
	ow, oh := w, h
	if o >= 5 { // orientations 5..8 swap the axes
		ow, oh = h, w
	}
	out := &RGB{W: ow, H: oh, Pix: make([]uint8, 3*ow*oh)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var dx, dy int
			switch o {
			case 2: // mirrored horizontally
				dx, dy = w-1-x, y
			case 3: // rotated 180
				dx, dy = w-1-x, h-1-y
			case 4: // mirrored vertically
				dx, dy = x, h-1-y
			case 5: // transposed
				dx, dy = y, x
			case 6: // stored rotated 90° counter-clockwise: rotate 90° clockwise
				dx, dy = h-1-y, x
			case 7: // transverse
				dx, dy = h-1-y, w-1-x
			case 8: // stored rotated 90° clockwise: rotate 90° counter-clockwise
				dx, dy = y, w-1-x
			}
			si := 3 * (y*w + x)
			di := 3 * (dy*ow + dx)
			out.Pix[di], out.Pix[di+1], out.Pix[di+2] = img.Pix[si], img.Pix[si+1], img.Pix[si+2]
		}
	}
	return out
}
