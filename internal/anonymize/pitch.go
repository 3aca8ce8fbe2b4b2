package anonymize

import "math"

// pitchShift scales the pitch of x by ratio and keeps its length: x is
// resampled (linear interpolation), which scales every frequency and the
// duration, and the result is brought back to len(x) samples by WSOLA
// (waveform-similarity overlap-add, Verhelst & Roelands 1993), which
// changes duration without changing frequencies.
func pitchShift(x []float64, ratio float64, rate int) []float64 {
	if len(x) < 2 {
		return x
	}
	y := make([]float64, max(1, int(float64(len(x))/ratio)))
	for n := range y {
		t := float64(n) * ratio
		i := int(t)
		a, b := x[min(i, len(x)-1)], x[min(i+1, len(x)-1)]
		y[n] = a + (t-float64(i))*(b-a)
	}
	return wsola(y, len(x), rate)
}

// wsola stretches y to n samples: output frames of 30 ms every 15 ms, each
// taken from y near its proportional position, shifted by up to ±5 ms to
// where it best continues the previous frame (by cross-correlation).
func wsola(y []float64, n, rate int) []float64 {
	frame := max(4, rate*3/100) &^ 1
	hop := frame / 2
	tol := rate / 200
	hann := make([]float64, frame)
	for i := range hann {
		hann[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(frame))
	}
	at := func(i int) float64 {
		if i < 0 || i >= len(y) {
			return 0
		}
		return y[i]
	}
	out := make([]float64, n+frame)
	speed := float64(len(y)) / float64(n)
	prev := 0
	for o := 0; o < n; o += hop {
		best := int(float64(o) * speed)
		if o > 0 {
			want, bestC := prev+hop, -1e300
			lo := best
			for d := -tol; d <= tol; d++ {
				c := 0.0
				for i := 0; i < frame; i += 2 { // every other sample: enough to align
					c += at(lo+d+i) * at(want+i)
				}
				if c > bestC {
					bestC, best = c, lo+d
				}
			}
		}
		for i := range frame {
			out[o+i] += at(best+i) * hann[i]
		}
		prev = best
	}
	overlapNormalize(out, hann, hop)
	return out[:n]
}
