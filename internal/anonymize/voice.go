package anonymize

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/cmplx"

	"gonum.org/v1/gonum/mat"
)

// McAdams is the speaker anonymization of the VoicePrivacy Challenge's
// signal-processing baseline (Patino et al., 2021, after McAdams 1984),
// with a pitch shift and a limiter added:
//
//   - frames of 20 ms with 50% overlap under a Hann window;
//   - LPC analysis of each frame (order 20, autocorrelation method,
//     Levinson–Durbin); the excitation is the signal through A(z), each
//     sample through the filter of the frame centred nearest to it;
//   - the roots of each LPC polynomial (the eigenvalues of its companion
//     matrix, gonum's mat.Eigen); each complex pole's angle φ (radians)
//     becomes φ^α, its radius is kept (so the filter stays stable), real
//     poles stay;
//   - the excitation's pitch is scaled by Pitch (resampled, then brought
//     back to its length by WSOLA, so timing is kept): the excitation is
//     nearly flat in spectrum, so this moves F0 and not the formants;
//   - the excitation goes through the moved all-pole 1/A'(z), switching
//     filters at the same samples (so α = 1 and no pitch shift give the
//     input back exactly); the result is scaled to the input's RMS
//     loudness and limited to a peak of -1 dBFS (see limit).
//
// What happens to formants: φ^α with α < 1 raises every angle below 1
// radian and lowers every angle above it. At 16 kHz one radian is 2.55
// kHz, so F1 and F2 move up (F1 at 500 Hz to 690 Hz with α = 0.8, about
// +20% over the voice band) and only the top of the band moves down. The
// turning point scales with the sample rate: the baseline is defined on
// 16 kHz speech, and at higher rates every formant moves up further.
type McAdams struct {
	Alpha float64 // McAdams coefficient; 0 means 0.8
	Order int     // LPC order; 0 means 20
	Pitch float64 // F0 ratio; 0 means 1 (unchanged)
}

// Speaker names whose voice is disguised, for the keyed draw of its
// parameters: Key is a secret of the dataset, ID the speaker's pseudonym
// in it. The same pair always gives the same voice, so one speaker stays
// one (disguised) speaker across a dataset, while different speakers, or
// the same speaker in another dataset, get unrelated parameters.
type Speaker struct {
	Key []byte
	ID  string
}

// Params draws the speaker's McAdams coefficient and pitch ratio from
// HMAC-SHA256(Key, label ‖ ID): α uniform in [0.7, 0.9] as in the
// VoicePrivacy baseline, and a pitch shift of 2 to 4 semitones, up or down.
func (s Speaker) Params() McAdams {
	m := hmac.New(sha256.New, s.Key)
	m.Write([]byte("likeness anonymize voice v1\x00"))
	m.Write([]byte(s.ID))
	h := m.Sum(nil)
	u := func(b []byte) float64 { return float64(binary.BigEndian.Uint64(b)>>11) / (1 << 53) }
	semitones := 2 + 2*u(h[8:16])
	if h[16]&1 == 1 {
		semitones = -semitones
	}
	return McAdams{Alpha: 0.7 + 0.2*u(h[:8]), Pitch: math.Pow(2, semitones/12)}
}

// Anonymize returns x with its spectral envelope and pitch moved, same
// length, no sample beyond -1 dBFS.
func (m McAdams) Anonymize(x []float64, rate int) []float64 {
	alpha, order, pitch := m.Alpha, m.Order, m.Pitch
	if alpha == 0 {
		alpha = 0.8
	}
	if order == 0 {
		order = 20
	}
	win := int(0.02 * float64(rate))
	win += win & 1
	hop := win / 2
	hann := make([]float64, win)
	for i := range hann {
		hann[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(win))
	}
	// Analysis: each frame's LPC filter and its moved copy (nil: none).
	w := newLPCWork(order, win)
	var orig, moved [][]float64
	for start := 0; start < len(x); start += hop {
		n := min(win, len(x)-start)
		seg := w.seg[:win]
		for i := range seg {
			seg[i] = 0
			if i < n {
				seg[i] = x[start+i] * hann[i]
			}
		}
		a, m := w.frame(seg, alpha)
		orig, moved = append(orig, a), append(moved, m)
	}
	// The filters change every hop, each sample taking the frame centred
	// nearest to it; the same switching in the inverse filter makes the
	// round trip exact when nothing moves.
	frameOf := func(i int) int { return min(len(orig)-1, max(0, (i-hop/2)/hop)) }
	exc := make([]float64, len(x))
	for i := range x {
		exc[i] = x[i]
		if a := orig[frameOf(i)]; a != nil {
			for k := 1; k < len(a) && k <= i; k++ {
				exc[i] += a[k] * x[i-k]
			}
		}
	}
	if pitch > 0 && pitch != 1 {
		exc = pitchShift(exc, pitch, rate)
	}
	out := make([]float64, len(x))
	for i := range x {
		out[i] = exc[i]
		if a := moved[frameOf(i)]; a != nil {
			for k := 1; k < len(a) && k <= i; k++ {
				out[i] -= a[k] * out[i-k]
			}
		}
	}
	if ri, ro := rms(x), rms(out); ro > 0 {
		g := ri / ro
		for i := range out {
			out[i] *= g
		}
	}
	limit(out, rate)
	return out
}

// overlapNormalize divides a sum of frames, each under the window hann
// every hop samples, by the sum of the windows.
func overlapNormalize(x, hann []float64, hop int) {
	norm := make([]float64, len(x))
	for start := 0; start < len(x); start += hop {
		for i := range min(len(hann), len(x)-start) {
			norm[start+i] += hann[i]
		}
	}
	for i := range x {
		if norm[i] > 1e-3 {
			x[i] /= norm[i]
		} else {
			x[i] = 0 // the very first sample, where the window is zero
		}
	}
}

// ceiling is the limiter's peak: -1 dBFS. Full scale (±1) never occurs.
const ceiling = 0.891

// limit brings every sample of x within ±ceiling without clipping: the
// gain each sample needs is spread, by a minimum then a moving average
// over 5 ms, to its neighbours, so peaks are turned down smoothly. The
// average of gains that are each at most the need of the sample in the
// middle is at most that need too, so the result never exceeds ceiling.
func limit(x []float64, rate int) {
	half := max(1, rate/400) // 2.5 ms
	need := make([]float64, len(x))
	over := false
	for i, v := range x {
		need[i] = 1
		if a := math.Abs(v); a > ceiling {
			need[i], over = ceiling/a, true
		}
	}
	if !over {
		return
	}
	lo := make([]float64, len(x))
	for i := range x { // minimum over ±2·half
		lo[i] = 1
		for j := max(0, i-2*half); j <= min(len(x)-1, i+2*half); j++ {
			lo[i] = math.Min(lo[i], need[j])
		}
	}
	for i := range x {
		s, n := 0.0, 0
		for j := max(0, i-half); j <= min(len(x)-1, i+half); j++ {
			s += lo[j]
			n++
		}
		x[i] *= s / float64(n)
		x[i] = math.Max(-ceiling, math.Min(ceiling, x[i])) // rounding only
	}
}

func rms(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v * v
	}
	if len(x) == 0 {
		return 0
	}
	return math.Sqrt(s / float64(len(x)))
}

// lpcWork holds per-call scratch space, so frames do not allocate much.
type lpcWork struct {
	order          int
	seg            []float64
	r, a, anew, tm []float64
	comp           *mat.Dense
	eig            mat.Eigen
	poles          []complex128
	poly           []complex128
}

func newLPCWork(order, win int) *lpcWork {
	return &lpcWork{order: order, seg: make([]float64, win),
		r: make([]float64, order+1), a: make([]float64, order+1), anew: make([]float64, order+1), tm: make([]float64, order+1),
		comp: mat.NewDense(order, order, nil), poles: make([]complex128, order), poly: make([]complex128, order+1)}
}

// frame analyses one windowed frame: it returns its LPC polynomial A(z)
// and A'(z), A with every complex pole's angle raised to alpha, or nils
// for silence or a frame the analysis cannot hold stable.
func (w *lpcWork) frame(seg []float64, alpha float64) (a, moved []float64) {
	p := w.order
	// Autocorrelation.
	for k := 0; k <= p; k++ {
		s := 0.0
		for i := k; i < len(seg); i++ {
			s += seg[i] * seg[i-k]
		}
		w.r[k] = s
	}
	if w.r[0] < 1e-10 {
		return nil, nil // silence: nothing to move
	}
	w.r[0] *= 1 + 1e-9 // a touch of white noise keeps Levinson–Durbin stable
	if !levinson(w.r, w.a, w.tm) {
		return nil, nil
	}
	// Poles: eigenvalues of the companion matrix of z^p + a1 z^(p-1) + … + ap.
	w.comp.Zero()
	for k := 0; k < p; k++ {
		w.comp.Set(0, k, -w.a[k+1])
		if k > 0 {
			w.comp.Set(k, k-1, 1)
		}
	}
	if !w.eig.Factorize(w.comp, mat.EigenNone) {
		return nil, nil
	}
	w.poles = w.eig.Values(w.poles)
	for i, z := range w.poles {
		if imag(z) == 0 {
			continue
		}
		r, phi := cmplx.Abs(z), math.Abs(cmplx.Phase(z))
		phi = math.Min(math.Pi, math.Pow(phi, alpha))
		if imag(z) < 0 {
			phi = -phi
		}
		w.poles[i] = cmplx.Rect(r, phi)
	}
	// A'(z) from the moved poles.
	poly := w.poly[:1]
	poly[0] = 1
	for _, z := range w.poles {
		poly = append(poly, 0)
		for k := len(poly) - 1; k > 0; k-- {
			poly[k] -= z * poly[k-1]
		}
	}
	for k := range w.anew {
		w.anew[k] = 0
		if k < len(poly) {
			w.anew[k] = real(poly[k])
		}
	}
	return append([]float64(nil), w.a...), append([]float64(nil), w.anew...)
}

// levinson solves the normal equations for the LPC coefficients a (a[0] =
// 1) from the autocorrelation r. It reports false for an unstable result.
func levinson(r, a, tmp []float64) bool {
	p := len(r) - 1
	for i := range a {
		a[i] = 0
	}
	a[0] = 1
	e := r[0]
	for i := 1; i <= p; i++ {
		acc := r[i]
		for j := 1; j < i; j++ {
			acc += a[j] * r[i-j]
		}
		k := -acc / e
		if math.Abs(k) >= 1 || math.IsNaN(k) {
			return false
		}
		copy(tmp, a)
		for j := 1; j < i; j++ {
			a[j] = tmp[j] + k*tmp[i-j]
		}
		a[i] = k
		e *= 1 - k*k
	}
	return true
}

// LPCEnvelope returns the LPC spectral envelope of x (order p) in dB at n
// frequencies from 0 to Nyquist; tests and audits use it to show that a
// voice moved.
func LPCEnvelope(x []float64, p, n int) []float64 {
	r := make([]float64, p+1)
	for k := 0; k <= p; k++ {
		for i := k; i < len(x); i++ {
			r[k] += x[i] * x[i-k]
		}
	}
	a, tmp := make([]float64, p+1), make([]float64, p+1)
	if r[0] < 1e-10 {
		return nil
	}
	r[0] *= 1 + 1e-9
	if !levinson(r, a, tmp) {
		return nil
	}
	out := make([]float64, n)
	for f := range n {
		om := math.Pi * float64(f) / float64(n-1)
		var h complex128
		for k := 0; k <= p; k++ {
			h += complex(a[k], 0) * cmplx.Exp(complex(0, -om*float64(k)))
		}
		out[f] = -20 * math.Log10(cmplx.Abs(h)+1e-12)
	}
	return out
}
