package keys

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

func encryptStream(t testing.TB, dek, ad, pt []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := EncryptWriter(dek, ad, &buf)
	if err != nil {
		t.Fatal(err)
	}
	// Odd write sizes exercise segment boundaries.
	for rest := pt; len(rest) > 0; {
		n := min(len(rest), 100_003)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decryptStream reads to the end and returns the first error, whether from
// DecryptReader or from a Read.
func decryptStream(dek, ad, ct []byte) ([]byte, error) {
	r, err := DecryptReader(dek, ad, bytes.NewReader(ct))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(b)
	return b
}

func TestStreamRoundTrip(t *testing.T) {
	const mib = 1 << 20
	dek := newTestDEK(t)
	ad := []byte("asset:a-1")
	for _, n := range []int{0, 1, mib - 1, mib, mib + 1, 5*mib + 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			pt := randomBytes(n)
			ct := encryptStream(t, dek, ad, pt)
			segments := (n + streamHeaderSize + streamPlainSegment) / streamPlainSegment
			if want := 1 + streamHeaderSize + n + segments*streamTagSize; len(ct) > want+streamTagSize || len(ct) < want-streamTagSize {
				t.Errorf("ciphertext is %d bytes, want about %d", len(ct), want)
			}
			got, err := decryptStream(dek, ad, ct)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, pt) {
				t.Fatalf("round trip changed the data (%d bytes in, %d out)", len(pt), len(got))
			}
		})
	}
}

func TestStreamTamperingFailsOnRead(t *testing.T) {
	const mib = 1 << 20
	dek := newTestDEK(t)
	ad := []byte("asset:a-1")
	pt := randomBytes(3*mib + 5)
	ct := encryptStream(t, dek, ad, pt)
	boundary := func(k int) int { return 1 + k*SegmentSize } // end of segment k

	mutate := map[string]func() []byte{}
	for _, pos := range []int{0, 1, 2, 20, 40, 41, 42, 1000, boundary(1) - 1, boundary(1), boundary(2) + 17, boundary(3) - 1, boundary(3), len(ct) - 17, len(ct) - 1} {
		mutate[fmt.Sprintf("flip byte %d", pos)] = func() []byte {
			b := bytes.Clone(ct)
			b[pos] ^= 0x40
			return b
		}
	}
	for _, n := range []int{0, 1, 41, 42, 100, boundary(1) - 1, boundary(1), boundary(1) + 1, boundary(3), len(ct) - 16, len(ct) - 1} {
		mutate[fmt.Sprintf("truncate to %d", n)] = func() []byte { return bytes.Clone(ct[:n]) }
	}
	for _, n := range []int{1, 16, 17, SegmentSize, SegmentSize + 1} {
		mutate[fmt.Sprintf("append %d", n)] = func() []byte { return append(bytes.Clone(ct), make([]byte, n)...) }
	}
	mutate["swap segments 1 and 2"] = func() []byte {
		b := bytes.Clone(ct)
		s1 := bytes.Clone(b[boundary(1):boundary(2)])
		copy(b[boundary(1):], b[boundary(2):boundary(3)])
		copy(b[boundary(2):], s1)
		return b
	}
	mutate["drop segment 2"] = func() []byte {
		return append(bytes.Clone(ct[:boundary(1)]), ct[boundary(2):]...)
	}

	for name, f := range mutate {
		t.Run(name, func(t *testing.T) {
			_, err := decryptStream(dek, ad, f())
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("read to EOF: err = %v, want ErrDecrypt", err)
			}
		})
	}
	t.Run("wrong ad", func(t *testing.T) {
		if _, err := decryptStream(dek, []byte("asset:a-2"), ct); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("err = %v, want ErrDecrypt", err)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		if _, err := decryptStream(newTestDEK(t), ad, ct); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("err = %v, want ErrDecrypt", err)
		}
	})
}

type failingReader struct {
	r     io.Reader
	after int
	err   error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, f.err
	}
	p = p[:min(len(p), f.after)]
	n, err := f.r.Read(p)
	f.after -= n
	return n, err
}

func TestStreamSourceErrorIsNotForgery(t *testing.T) {
	dek := newTestDEK(t)
	ct := encryptStream(t, dek, nil, randomBytes(3<<20))
	down := errors.New("store unreachable")
	r, err := DecryptReader(dek, nil, &failingReader{r: bytes.NewReader(ct), after: 2 << 20, err: down})
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(r)
	if !errors.Is(err, down) || errors.Is(err, ErrDecrypt) {
		t.Fatalf("err = %v, want the source's error and not ErrDecrypt", err)
	}
}

func TestEncryptWriterRejectsBadKey(t *testing.T) {
	if _, err := EncryptWriter(make([]byte, 16), nil, io.Discard); err == nil {
		t.Fatal("EncryptWriter accepted a 16-byte key")
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func BenchmarkEncryptStream(b *testing.B) {
	const size = 64 << 20
	dek := newTestDEK(b)
	b.SetBytes(size)
	for b.Loop() {
		w, err := EncryptWriter(dek, nil, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(w, io.LimitReader(zeroReader{}, size)); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptStream(b *testing.B) {
	const size = 64 << 20
	dek := newTestDEK(b)
	ct := encryptStream(b, dek, nil, make([]byte, size))
	b.SetBytes(size)
	for b.Loop() {
		r, err := DecryptReader(dek, nil, bytes.NewReader(ct))
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, r); err != nil || n != size {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkStreamMemory pushes 256 MiB through encryption and decryption
// joined by a pipe, and reports how much the heap grew and how much was
// allocated in all: both should stay at a few segments, whatever the size.
func BenchmarkStreamMemory(b *testing.B) {
	const size = 256 << 20
	dek := newTestDEK(b)
	b.SetBytes(size)
	var maxInuse, allocated uint64
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)

		pr, pw := io.Pipe()
		go func() {
			w, err := EncryptWriter(dek, nil, pw)
			if err == nil {
				_, err = io.Copy(w, io.LimitReader(zeroReader{}, size))
			}
			if err == nil {
				err = w.Close()
			}
			pw.CloseWithError(err)
		}()
		r, err := DecryptReader(dek, nil, pr)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 32<<10)
		var n int64
		var ms runtime.MemStats
		for i := 0; ; i++ {
			m, err := r.Read(buf)
			n += int64(m)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if i%1024 == 0 {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > before.HeapInuse {
					maxInuse = max(maxInuse, ms.HeapInuse-before.HeapInuse)
				}
			}
		}
		if n != size {
			b.Fatalf("read %d bytes, want %d", n, size)
		}
		runtime.ReadMemStats(&ms)
		allocated = ms.TotalAlloc - before.TotalAlloc
	}
	b.ReportMetric(float64(maxInuse)/(1<<20), "heap-growth-MiB")
	b.ReportMetric(float64(allocated)/(1<<20), "alloc-MiB/op")
}
