package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func synchsafe(n int) string {
	return string([]byte{byte(n >> 21 & 0x7f), byte(n >> 14 & 0x7f), byte(n >> 7 & 0x7f), byte(n & 0x7f)})
}

// id3v2 is an ID3v2 tag of the given version with a title, an artist and a
// comment naming marker; footer adds a v2.4 footer.
func id3v2(version byte, footer bool) []byte {
	frame := func(id, text string) string {
		return id + be32(uint32(len(text)+1)) + "\x00\x00\x03" + text
	}
	body := frame("TIT2", "Interview") + frame("TPE1", "Anna Example") + frame("COMM", "eng\x00"+marker)
	flags := byte(0)
	if footer {
		flags = 0x10
	}
	hdr := "ID3" + string([]byte{version, 0, flags}) + synchsafe(len(body))
	tag := hdr + body
	if footer {
		tag += "3DI" + hdr[3:]
	}
	return []byte(tag)
}

// id3v1 is a 128-byte ID3v1 tag.
func id3v1() []byte {
	t := []byte("TAG" + "Interview" + strings.Repeat("\x00", 21) + marker)
	return append(t, make([]byte, 128-len(t))...)
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestStripMP3RemovesID3Tags(t *testing.T) {
	frames := headMP3Frames
	short := frames[:50] // shorter than an ID3v1 tag
	tests := []struct {
		name    string
		in, out []byte
	}{
		{"ID3v2.3 and ID3v1", join(id3v2(3, false), frames, id3v1()), frames},
		{"ID3v2.4 with footer", join(id3v2(4, true), frames), frames},
		{"two ID3v2 tags", join(id3v2(3, false), id3v2(4, false), frames, id3v1()), frames},
		{"ID3v1 only", join(frames, id3v1()), frames},
		{"no tags", frames, frames},
		{"short, no tags", short, short},
		{"ID3v2 and short audio", join(id3v2(2, false), short), short},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := StripMP3(&out, iotest.OneByteReader(bytes.NewReader(tt.in))); err != nil {
				t.Fatalf("StripMP3: %v", err)
			}
			mustNotContain(t, out.Bytes(), marker, "Anna", "ID3", "TAG")
			if !bytes.Equal(out.Bytes(), tt.out) {
				t.Errorf("output is %d bytes, want the %d bytes of audio unchanged", out.Len(), len(tt.out))
			}
			out.Reset()
			if err := Strip(&out, bytes.NewReader(tt.in), typeMP3); err != nil || !bytes.Equal(out.Bytes(), tt.out) {
				t.Errorf("Strip(audio/mpeg) = %v, not the audio", err)
			}
		})
	}
}

func TestStripMP3RefusesMalformedInput(t *testing.T) {
	tag := id3v2(3, false)
	tests := map[string][]byte{
		"empty":             nil,
		"only a tag":        tag,
		"only tags":         join(tag, id3v1()),
		"tag cut short":     join(tag[:len(tag)-3]),
		"tag header cut":    tag[:7],
		"bad size":          join([]byte("ID3\x03\x00\x00\x00\x00\x80\x00"), headMP3Frames),
		"unknown version":   join([]byte("ID3\x05\x00\x00\x00\x00\x00\x00"), headMP3Frames),
		"second tag broken": join(tag, []byte("ID3\xff\x00\x00\x00\x00\x00\x00"), headMP3Frames),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if err := StripMP3(io.Discard, bytes.NewReader(in)); !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// FLAC

const (
	flacStreamInfo = 0
	flacPadding    = 1
	flacSeekTable  = 3
	flacComment    = 4
	flacPicture    = 6
)

func flacBlock(typ byte, last bool, data []byte) []byte {
	if last {
		typ |= 0x80
	}
	return append([]byte{typ, byte(len(data) >> 16), byte(len(data) >> 8), byte(len(data))}, data...)
}

var (
	flacInfo   = []byte("\x10\x00\x10\x00\x00\x00\x0e\x00\x1f\x3d\x0a\xc4\x42\xf0\x00\x00\x00\x00" + strings.Repeat("\x5a", 16))
	flacSeek   = []byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00")
	flacFrames = append([]byte("\xff\xf8\x69\x08\x00\x0f\x9c"), testSamples(4000)...)
)

func vorbisComment() []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 9)
	b = append(b, "reference"...)
	b = binary.LittleEndian.AppendUint32(b, 1)
	c := "ARTIST=Anna Example; SERIAL=" + marker
	b = binary.LittleEndian.AppendUint32(b, uint32(len(c)))
	return append(b, c...)
}

func TestStripFLACKeepsOnlyStreamInfoAndSeekTable(t *testing.T) {
	info, seek := flacBlock(flacStreamInfo, false, flacInfo), flacBlock(flacSeekTable, false, flacSeek)
	comment := flacBlock(flacComment, false, vorbisComment())
	picture := flacBlock(flacPicture, false, []byte("\x00\x00\x00\x03\x00\x00\x00\x0aimage/jpeg"+marker))
	padding := flacBlock(flacPadding, true, make([]byte, 100))
	lastInfo, lastSeek := flacBlock(flacStreamInfo, true, flacInfo), flacBlock(flacSeekTable, true, flacSeek)
	magic := []byte("fLaC")
	tests := []struct {
		name    string
		in, out []byte
	}{
		{"all blocks", join(magic, info, comment, seek, picture, padding, flacFrames), join(magic, info, lastSeek, flacFrames)},
		{"stream info only", join(magic, lastInfo, flacFrames), join(magic, lastInfo, flacFrames)},
		{"comment last", join(magic, info, flacBlock(flacComment, true, vorbisComment()), flacFrames), join(magic, lastInfo, flacFrames)},
		{"ID3 tags around", join(id3v2(3, false), magic, info, comment, padding, flacFrames, id3v1()), join(magic, lastInfo, flacFrames)},
		{"no frames", join(magic, info, padding), join(magic, lastInfo)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := StripFLAC(&out, iotest.HalfReader(bytes.NewReader(tt.in))); err != nil {
				t.Fatalf("StripFLAC: %v", err)
			}
			mustNotContain(t, out.Bytes(), marker, "Anna", "image/jpeg")
			if !bytes.Equal(out.Bytes(), tt.out) {
				t.Errorf("output is %d bytes, want %d: the kept blocks and the frames unchanged", out.Len(), len(tt.out))
			}
			out.Reset()
			if err := Strip(&out, bytes.NewReader(tt.in), typeFLAC); err != nil || !bytes.Equal(out.Bytes(), tt.out) {
				t.Errorf("Strip(audio/flac) = %v, not StripFLAC's output", err)
			}
		})
	}
}

func TestStripFLACRefusesMalformedInput(t *testing.T) {
	info := flacBlock(flacStreamInfo, false, flacInfo)
	tests := map[string][]byte{
		"empty":                 nil,
		"not FLAC":              []byte("OggS\x00\x02"),
		"no blocks":             []byte("fLaC"),
		"first not stream info": join([]byte("fLaC"), flacBlock(flacComment, true, vorbisComment())),
		"short stream info":     join([]byte("fLaC"), flacBlock(flacStreamInfo, true, flacInfo[:20])),
		"two stream infos":      join([]byte("fLaC"), info, flacBlock(flacStreamInfo, true, flacInfo)),
		"block type 127":        join([]byte("fLaC"), info, flacBlock(127, true, nil)),
		"no last block":         join([]byte("fLaC"), info),
		"comment cut":           join([]byte("fLaC"), info, flacBlock(flacComment, true, vorbisComment())[:20]),
		"seek table cut":        join([]byte("fLaC"), info, flacBlock(flacSeekTable, true, flacSeek)[:10]),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if err := StripFLAC(io.Discard, bytes.NewReader(in)); !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// WAV

func wavFile(chunks ...[]byte) []byte {
	body := join(append([][]byte{[]byte("WAVE")}, chunks...)...)
	return join([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body))), body)
}

var (
	wavFmt     = riffChunk("fmt ", []byte("\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00"))
	wavFact    = riffChunk("fact", []byte("\xf4\x01\x00\x00"))
	wavSamples = testSamples(1001) // odd: the data chunk has a pad byte
	wavData    = riffChunk("data", wavSamples)
	wavInfo    = riffChunk("LIST", []byte("INFOIART\x0d\x00\x00\x00Anna Example\x00\x00ICMT\x0f\x00\x00\x00"+marker+"\x00"))
	wavBext    = riffChunk("bext", []byte("Interview recorded on Phone 15 Pro by "+marker+"!"))
	wavIXML    = riffChunk("iXML", []byte("<BWFXML><NOTE>"+marker+"</NOTE></BWFXML>"))
)

func TestStripWAVKeepsFmtFactAndData(t *testing.T) {
	clean := wavFile(wavFmt, wavData)
	tests := []struct {
		name    string
		in, out []byte
	}{
		{"canonical", clean, clean},
		{"metadata before and after data", wavFile(wavBext, wavFmt, wavInfo, wavFact, wavIXML, wavData, wavInfo), wavFile(wavFmt, wavFact, wavData)},
		{"odd fmt chunk", wavFile(riffChunk("fmt ", append(wavFmt[8:], 0x42)), wavData), wavFile(riffChunk("fmt ", append(wavFmt[8:], 0x42)), wavData)},
		{"missing last pad byte", wavFile(wavFmt, wavInfo, wavData[:len(wavData)-1]), clean},
		{"even data", wavFile(wavFmt, riffChunk("data", wavSamples[:1000]), wavIXML), wavFile(wavFmt, riffChunk("data", wavSamples[:1000]))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := StripWAV(&out, iotest.HalfReader(bytes.NewReader(tt.in))); err != nil {
				t.Fatalf("StripWAV: %v", err)
			}
			got := out.Bytes()
			mustNotContain(t, got, marker, "Anna", "LIST", "bext", "iXML")
			if size := binary.LittleEndian.Uint32(got[4:]); int(size) != len(got)-8 {
				t.Errorf("RIFF size %d, file is %d bytes", size, len(got))
			}
			if !bytes.Equal(got, tt.out) {
				t.Errorf("output is %d bytes, want %d: fmt, fact and data unchanged", len(got), len(tt.out))
			}
			out.Reset()
			if err := Strip(&out, bytes.NewReader(tt.in), typeWAV); err != nil || !bytes.Equal(out.Bytes(), tt.out) {
				t.Errorf("Strip(audio/wav) = %v, not StripWAV's output", err)
			}
		})
	}
}

func TestStripWAVRefusesMalformedInput(t *testing.T) {
	tests := map[string][]byte{
		"empty":              nil,
		"not WAVE":           []byte(webp1x1),
		"header only":        wavFile(),
		"no data":            wavFile(wavFmt, wavInfo),
		"data before fmt":    wavFile(wavData, wavFmt),
		"short fmt":          wavFile(riffChunk("fmt ", []byte("\x01\x00")), wavData),
		"two fmt":            wavFile(wavFmt, wavFmt, wavData),
		"data cut":           wavFile(wavFmt, wavData[:500]),
		"list cut":           wavFile(wavFmt, wavInfo[:20]),
		"chunk header cut":   wavFile(wavFmt, []byte("LIS")),
		"fmt cut":            wavFile(wavFmt[:12]),
		"huge fmt":           wavFile([]byte("fmt \x00\x00\x00\x10")),
		"data beyond 4 GiB":  wavFile(wavFmt, []byte("data\xff\xff\xff\xff")),
		"headWAV, truncated": headWAV,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if err := StripWAV(io.Discard, bytes.NewReader(in)); !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestStripAudioReportsIOFailuresAsTheirOwn(t *testing.T) {
	big := testSamples(300 << 10)
	for name, c := range map[string]struct {
		strip func(io.Writer, io.Reader) error
		in    []byte
	}{
		"mp3":  {StripMP3, join(id3v2(3, false), big)},
		"flac": {StripFLAC, join([]byte("fLaC"), flacBlock(flacStreamInfo, true, flacInfo), big)},
		"wav":  {StripWAV, wavFile(wavFmt, riffChunk("data", big))},
	} {
		t.Run(name+" write", func(t *testing.T) {
			err := c.strip(&failingWriter{after: 100}, bytes.NewReader(c.in))
			if err == nil || errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "disk full") {
				t.Errorf("err = %v, want the write error", err)
			}
		})
		t.Run(name+" read", func(t *testing.T) {
			src := io.MultiReader(bytes.NewReader(c.in[:len(c.in)/2]), iotest.ErrReader(errors.New("connection reset")))
			err := c.strip(io.Discard, src)
			if err == nil || errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "connection reset") {
				t.Errorf("err = %v, want the read error", err)
			}
		})
	}
}

// fuzzNoPanic checks that strip never panics and refuses bad input only as
// ErrMalformed. (Stripping audio is not idempotent on every input: a file
// may end in two ID3v1 tags.)
func fuzzNoPanic(t *testing.T, strip func(io.Writer, io.Reader) error, in []byte) {
	if err := strip(io.Discard, bytes.NewReader(in)); err != nil && !errors.Is(err, ErrMalformed) {
		t.Fatalf("a bytes.Reader source gave a non-input error: %v", err)
	}
}

func FuzzStripAudio(f *testing.F) {
	f.Add(byte(0), join(id3v2(4, true), headMP3Frames, id3v1()))
	f.Add(byte(1), join([]byte("fLaC"), flacBlock(flacStreamInfo, false, flacInfo), flacBlock(flacComment, true, vorbisComment()), flacFrames))
	f.Add(byte(2), wavFile(wavFmt, wavInfo, wavFact, wavData))
	strippers := []func(io.Writer, io.Reader) error{StripMP3, StripFLAC, StripWAV}
	f.Fuzz(func(t *testing.T, which byte, in []byte) {
		fuzzNoPanic(t, strippers[int(which)%len(strippers)], in)
	})
}
