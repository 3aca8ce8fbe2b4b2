package anonymize

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// PCM is 16-bit linear PCM audio: one slice of samples per channel, scaled
// to [-1, 1).
type PCM struct {
	Rate     int
	Channels [][]float64
}

// DecodeWAV reads a RIFF/WAVE file of 16-bit integer PCM. Other encodings
// give ErrUnsupported.
func DecodeWAV(b []byte) (*PCM, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: not a RIFF/WAVE file", ErrUnsupported)
	}
	var rate, channels, bits, format int
	var data []byte
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		body := b[p+8:]
		if size > len(body) {
			size = len(body) // a truncated last chunk: take what is there
		}
		body = body[:size]
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, fmt.Errorf("%w: short fmt chunk", ErrUnsupported)
			}
			format = int(binary.LittleEndian.Uint16(body[0:2]))
			channels = int(binary.LittleEndian.Uint16(body[2:4]))
			rate = int(binary.LittleEndian.Uint32(body[4:8]))
			bits = int(binary.LittleEndian.Uint16(body[14:16]))
			if format == 0xFFFE && size >= 26 { // WAVE_FORMAT_EXTENSIBLE: the subformat decides
				format = int(binary.LittleEndian.Uint16(body[24:26]))
			}
		case "data":
			data = body
		}
		p += 8 + size + size&1
	}
	if format != 1 || bits != 16 || channels < 1 || channels > 8 || rate < 4000 || data == nil {
		return nil, fmt.Errorf("%w: only 16-bit PCM WAV can be anonymized (this is %s)", ErrUnsupported, wavKind(format, bits, channels, rate, data != nil))
	}
	n := len(data) / (2 * channels)
	pcm := &PCM{Rate: rate, Channels: make([][]float64, channels)}
	for c := range pcm.Channels {
		pcm.Channels[c] = make([]float64, n)
	}
	for i := range n {
		for c := range channels {
			v := int16(binary.LittleEndian.Uint16(data[2*(i*channels+c):]))
			pcm.Channels[c][i] = float64(v) / 32768
		}
	}
	return pcm, nil
}

// EncodeWAV writes p as a canonical 16-bit PCM WAV file (no other chunks).
func EncodeWAV(p *PCM) []byte {
	ch := len(p.Channels)
	n := 0
	if ch > 0 {
		n = len(p.Channels[0])
	}
	dataLen := n * ch * 2
	var b bytes.Buffer
	b.Grow(44 + dataLen)
	le := binary.LittleEndian
	b.WriteString("RIFF")
	binary.Write(&b, le, uint32(36+dataLen))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, le, uint32(16))
	binary.Write(&b, le, uint16(1))
	binary.Write(&b, le, uint16(ch))
	binary.Write(&b, le, uint32(p.Rate))
	binary.Write(&b, le, uint32(p.Rate*ch*2))
	binary.Write(&b, le, uint16(ch*2))
	binary.Write(&b, le, uint16(16))
	b.WriteString("data")
	binary.Write(&b, le, uint32(dataLen))
	buf := make([]byte, dataLen)
	for i := range n {
		for c := range ch {
			v := math.Round(p.Channels[c][i] * 32768)
			v = math.Max(-32768, math.Min(32767, v))
			le.PutUint16(buf[2*(i*ch+c):], uint16(int16(v)))
		}
	}
	b.Write(buf)
	return b.Bytes()
}

// wavKind describes a WAV file the voice transform does not take, for
// the message that leaves it out: "8-bit PCM", "32-bit float", "no audio".
func wavKind(format, bits, channels, rate int, hasData bool) string {
	switch {
	case !hasData:
		return "a file with no audio data"
	case channels < 1 || channels > 8:
		return fmt.Sprintf("%d channels", channels)
	case rate < 4000:
		return fmt.Sprintf("%d samples a second", rate)
	case format == 1:
		return fmt.Sprintf("%d-bit PCM", bits)
	case format == 3:
		return fmt.Sprintf("%d-bit float", bits)
	}
	return fmt.Sprintf("WAV format %d", format)
}
