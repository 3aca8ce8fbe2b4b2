package vault_test

import (
	"context"
	"encoding/binary"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"likeness"
	"likeness/internal/likenesstest"
	"likeness/internal/vault"
)

// wavStream is a WAV file of n data bytes generated as it is read, so the
// benchmark holds no copy of the upload in memory.
type wavStream struct {
	header []byte
	left   int64
}

func newWAV(n int64) *wavStream {
	h := make([]byte, 0, 44)
	h = append(h, "RIFF"...)
	h = binary.LittleEndian.AppendUint32(h, uint32(36+n))
	h = append(h, "WAVEfmt "...)
	h = binary.LittleEndian.AppendUint32(h, 16)
	h = binary.LittleEndian.AppendUint16(h, 1)
	h = binary.LittleEndian.AppendUint16(h, 1)
	h = binary.LittleEndian.AppendUint32(h, 16000)
	h = binary.LittleEndian.AppendUint32(h, 32000)
	h = binary.LittleEndian.AppendUint16(h, 2)
	h = binary.LittleEndian.AppendUint16(h, 16)
	h = append(h, "data"...)
	h = binary.LittleEndian.AppendUint32(h, uint32(n))
	return &wavStream{header: h, left: n}
}

func (w *wavStream) Read(p []byte) (int, error) {
	if len(w.header) > 0 {
		n := copy(p, w.header)
		w.header = w.header[n:]
		return n, nil
	}
	if w.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > w.left {
		p = p[:w.left]
	}
	// The bytes' values do not matter to the vault; leave p as it is so
	// the generator costs nothing.
	w.left -= int64(len(p))
	return len(p), nil
}

func setup(b *testing.B) (*vault.Vault, string, string) {
	b.Helper()
	d := likenesstest.New(b, likenesstest.Options{MaxUpload: 2 << 30})
	sub := d.Subject(b, "bench", "EU-DE")
	d.Grant(b, sub, "ai-training")
	return d.Vault, sub, d.Dir
}

// peakRSS reads the process's peak resident set size (VmHWM) in bytes.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb * 1024
		}
	}
	return 0
}

func benchmarkIngest(b *testing.B, size int64) {
	v, sub, _ := setup(b)
	ctx := context.Background()
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		if _, err := v.Ingest(ctx, &vault.Upload{SubjectID: sub, Purpose: "ai-training", Category: "voice", ContentType: "audio/wav", Body: newWAV(size)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(peakRSS()/(1<<20), "peak-RSS-MiB")
}

func benchmarkRead(b *testing.B, size int64) {
	v, sub, _ := setup(b)
	a, err := v.Ingest(context.Background(), &vault.Upload{SubjectID: sub, Purpose: "ai-training", Category: "voice", ContentType: "audio/wav", Body: newWAV(size)})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		rc := mustOpen(b, v, a.ID)
		if n, err := io.Copy(io.Discard, rc); err != nil || n != size+44 {
			b.Fatalf("read %d bytes: %v", n, err)
		}
		rc.Close()
	}
	b.ReportMetric(peakRSS()/(1<<20), "peak-RSS-MiB")
}

func mustOpen(b *testing.B, v *vault.Vault, id string) io.ReadCloser {
	_, rc, err := v.Open(likeness.WithActor(context.Background(), likeness.Actor{KeyID: "bench", Role: likeness.RolePipeline}),
		&vault.Access{AssetID: id, Purpose: "ai-training", Recipient: "acme-ml"})
	if err != nil {
		b.Fatal(err)
	}
	return rc
}

// BenchmarkIngest64MiB: upload of a 64 MiB recording: consent check, sniff,
// hashes, encryption, fsync'd blob file, asset row.
func BenchmarkIngest64MiB(b *testing.B) { benchmarkIngest(b, 64<<20) }

// BenchmarkRead64MiB: decision, access-log row, blob read and decryption.
func BenchmarkRead64MiB(b *testing.B) { benchmarkRead(b, 64<<20) }

// BenchmarkIngest1GiB and BenchmarkRead1GiB show memory stays flat for a
// 1 GiB file: run with -benchtime 1x and read peak-RSS-MiB.
func BenchmarkIngest1GiB(b *testing.B) { benchmarkIngest(b, 1<<30) }

// BenchmarkRead1GiB: see BenchmarkIngest1GiB.
func BenchmarkRead1GiB(b *testing.B) { benchmarkRead(b, 1<<30) }

// BenchmarkConsentCheckOnIngest is the cost of the consent decision an
// upload waits for (the rest of an upload is I/O).
func BenchmarkConsentCheckOnIngest(b *testing.B) {
	v, sub, _ := setup(b)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		// A refused upload does the same consent check and stops there.
		_, err := v.Ingest(ctx, &vault.Upload{SubjectID: sub, Purpose: "voice-transcription", Category: "voice", ContentType: "audio/wav", Body: newWAV(1)})
		if likeness.ErrorCode(err) != likeness.EFORBIDDEN {
			b.Fatal(err)
		}
	}
}
