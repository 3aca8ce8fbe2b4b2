package anonymize

import (
	"math"
	"math/cmplx"

	"gonum.org/v1/gonum/mat"
)

// McAdams is the speaker anonymization of the VoicePrivacy Challenge's
// signal-processing baseline (Patino et al., 2021, after McAdams 1984):
//
//   - frames of 20 ms with 50% overlap under a Hann window;
//   - LPC analysis of each frame (order 20, autocorrelation method,
//     Levinson–Durbin);
//   - the roots of the LPC polynomial (the eigenvalues of its companion
//     matrix, gonum's mat.Eigen); each complex pole's angle φ becomes φ^α,
//     its radius is kept (so the filter stays stable), real poles stay;
//   - the frame's LPC residual (the frame through the original FIR A(z)) is
//     filtered through the new all-pole 1/A'(z), windowed again and added
//     back with overlap (normalized by the summed squared windows, so α = 1
//     reconstructs the input);
//   - the result is scaled to the input's RMS loudness.
//
// Formants move (down for most of the voice band with α < 1), which changes
// the perceived speaker while duration and timing are kept exactly.
type McAdams struct {
	Alpha float64 // McAdams coefficient; 0 means 0.8
	Order int     // LPC order; 0 means 20
}

// Anonymize returns x with its spectral envelope moved, same length.
func (m McAdams) Anonymize(x []float64, rate int) []float64 {
	alpha, order := m.Alpha, m.Order
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
	out := make([]float64, len(x))
	norm := make([]float64, len(x))
	w := newLPCWork(order, win)
	for start := 0; start < len(x); start += hop {
		n := min(win, len(x)-start)
		seg := w.seg[:win]
		for i := range seg {
			seg[i] = 0
			if i < n {
				seg[i] = x[start+i] * hann[i]
			}
		}
		y := w.frame(seg, alpha)
		for i := range n {
			out[start+i] += y[i] * hann[i]
			norm[start+i] += hann[i] * hann[i]
		}
	}
	for i := range out {
		if norm[i] > 1e-3 {
			out[i] /= norm[i]
		} else {
			out[i] = 0 // the very first sample, where the window is zero
		}
	}
	if ri, ro := rms(x), rms(out); ro > 0 {
		g := ri / ro
		for i := range out {
			out[i] *= g
		}
	}
	return out
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
	seg, res, y    []float64
	r, a, anew, tm []float64
	comp           *mat.Dense
	eig            mat.Eigen
	poles          []complex128
	poly           []complex128
}

func newLPCWork(order, win int) *lpcWork {
	return &lpcWork{order: order, seg: make([]float64, win), res: make([]float64, win), y: make([]float64, win),
		r: make([]float64, order+1), a: make([]float64, order+1), anew: make([]float64, order+1), tm: make([]float64, order+1),
		comp: mat.NewDense(order, order, nil), poles: make([]complex128, order), poly: make([]complex128, order+1)}
}

// frame anonymizes one windowed frame.
func (w *lpcWork) frame(seg []float64, alpha float64) []float64 {
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
		copy(w.y, seg) // silence: nothing to move
		return w.y
	}
	w.r[0] *= 1 + 1e-9 // a touch of white noise keeps Levinson–Durbin stable
	if !levinson(w.r, w.a, w.tm) {
		copy(w.y, seg)
		return w.y
	}
	// Residual: e = A(z) s.
	for i := range seg {
		s := seg[i]
		for k := 1; k <= p && k <= i; k++ {
			s += w.a[k] * seg[i-k]
		}
		w.res[i] = s
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
		copy(w.y, seg)
		return w.y
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
	// y = e / A'(z).
	for i := range w.res {
		s := w.res[i]
		for k := 1; k <= p && k <= i; k++ {
			s -= w.anew[k] * w.y[i-k]
		}
		w.y[i] = s
	}
	return w.y
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
