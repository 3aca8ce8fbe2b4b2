package anonymize_test

import (
	"math"
	"sort"
	"testing"

	"likeness/internal/anonymize"
)

var testSpeaker = anonymize.Speaker{Key: []byte("a dataset key of thirty-two bytes"), ID: "speaker-1"}

// vowel is a second, synthetic speaker: a glottal pulse train at f0 with a
// slight vibrato through resonators at the formants of /a/ (700, 1220,
// 2600 Hz), at 16 kHz, peaking at 0.99 of full scale.
func vowel(f0 float64, seconds float64) []float64 {
	const rate = 16000
	n := int(seconds * rate)
	x := make([]float64, n)
	phase := 0.0
	for i := range x {
		f := f0 * (1 + 0.01*math.Sin(2*math.Pi*5*float64(i)/rate))
		phase += f / rate
		if phase >= 1 {
			phase--
			x[i] = 1
		}
	}
	for _, fm := range []struct{ f, bw float64 }{{700, 110}, {1220, 120}, {2600, 160}} {
		r := math.Exp(-math.Pi * fm.bw / rate)
		a1, a2 := 2*r*math.Cos(2*math.Pi*fm.f/rate), -r*r
		var y1, y2 float64
		for i := range x {
			y := x[i] + a1*y1 + a2*y2
			x[i], y2, y1 = y, y1, y
		}
	}
	peak := 0.0
	for _, v := range x {
		peak = math.Max(peak, math.Abs(v))
	}
	for i := range x {
		x[i] *= 0.99 / peak
	}
	return x
}

// voicedFrames yields the 40 ms frames of x (every 20 ms) whose energy is
// within 10 dB of the loudest.
func voicedFrames(x []float64, rate int) [][]float64 {
	win := rate / 25
	var frames [][]float64
	var energy []float64
	top := 0.0
	for s := 0; s+win <= len(x); s += win / 2 {
		e := 0.0
		for _, v := range x[s : s+win] {
			e += v * v
		}
		frames, energy = append(frames, x[s:s+win]), append(energy, e)
		top = math.Max(top, e)
	}
	var out [][]float64
	for i, f := range frames {
		if energy[i] > top/10 {
			out = append(out, f)
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	return v[len(v)/2]
}

// f0 is the median fundamental over voiced frames, by autocorrelation
// between 70 and 400 Hz.
func f0(x []float64, rate int) float64 {
	var est []float64
	for _, f := range voicedFrames(x, rate) {
		lo, hi := rate/400, rate/70
		corr := make([]float64, hi+1)
		best := 0.0
		for l := lo; l <= hi; l++ {
			c, e := 0.0, 0.0
			for i := l; i < len(f); i++ {
				c += f[i] * f[i-l]
				e += f[i-l] * f[i-l]
			}
			if e > 0 {
				corr[l] = c / e
			}
			best = math.Max(best, corr[l])
		}
		// The first peak near the best, not a multiple of the period.
		for l := lo + 1; l < hi && best > 0.3; l++ {
			if corr[l] >= 0.95*best && corr[l] >= corr[l-1] && corr[l] >= corr[l+1] {
				est = append(est, float64(rate)/float64(l))
				break
			}
		}
	}
	return median(est)
}

// f1 is the median first formant over voiced frames: the first peak above
// 250 Hz of the LPC envelope (order 18).
func f1(x []float64, rate int) float64 {
	var est []float64
	for _, f := range voicedFrames(x, rate) {
		env := anonymize.LPCEnvelope(hann(f), 18, 512)
		for i := 1; i+1 < len(env); i++ {
			hz := float64(i) / float64(len(env)-1) * float64(rate) / 2
			if hz > 250 && env[i] > env[i-1] && env[i] >= env[i+1] {
				est = append(est, hz)
				break
			}
		}
	}
	return median(est)
}

func TestVoiceMovesPitchAndFormantsOfTwoSpeakersWithoutClipping(t *testing.T) {
	pcm, err := anonymize.DecodeWAV(readSpeech(t))
	if err != nil {
		t.Fatal(err)
	}
	speech := pcm.Channels[0]
	peak := 0.0
	for _, v := range speech {
		peak = math.Max(peak, math.Abs(v))
	}
	loud := make([]float64, len(speech)) // the recording, normalized to 0.99 of full scale
	for i, v := range speech {
		loud[i] = v * 0.99 / peak
	}
	for _, c := range []struct {
		name string
		x    []float64
		sp   anonymize.Speaker
	}{
		{"recording", loud, testSpeaker},
		{"synthetic vowel at 120 Hz", vowel(120, 2), anonymize.Speaker{Key: testSpeaker.Key, ID: "speaker-2"}},
		{"synthetic vowel at 220 Hz", vowel(220, 2), anonymize.Speaker{Key: testSpeaker.Key, ID: "speaker-3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := c.sp.Params()
			y := m.Anonymize(c.x, 16000)
			peakOut := 0.0
			for _, v := range y {
				peakOut = math.Max(peakOut, math.Abs(v))
			}
			fi, fo := f0(c.x, 16000), f0(y, 16000)
			ri, ro := f1(c.x, 16000), f1(y, 16000)
			t.Logf("α %.3f pitch ×%.3f: F0 %.0f → %.0f Hz (×%.3f), F1 %.0f → %.0f Hz (×%.3f), peak %.3f → %.3f",
				m.Alpha, m.Pitch, fi, fo, fo/fi, ri, ro, ro/ri, 0.99, peakOut)
			if math.Abs(fo/fi-m.Pitch) > 0.06 || math.Abs(fo/fi-1) < 0.08 {
				t.Errorf("F0 moved ×%.3f; want ×%.3f", fo/fi, m.Pitch)
			}
			if math.Abs(ro/ri-1) < 0.08 {
				t.Errorf("F1 moved ×%.3f; want at least 8%%", ro/ri)
			}
			if peakOut >= 0.9 {
				t.Errorf("peak %.3f of full scale; want below -1 dBFS", peakOut)
			}
		})
	}
}

func TestSpeakerParamsAreKeyedAndInRange(t *testing.T) {
	a, b := testSpeaker.Params(), testSpeaker.Params()
	if a != b {
		t.Errorf("the same speaker and key gave %+v then %+v", a, b)
	}
	seen := map[float64]bool{}
	for _, sp := range []anonymize.Speaker{
		testSpeaker,
		{Key: testSpeaker.Key, ID: "speaker-2"},
		{Key: []byte("another dataset's key"), ID: testSpeaker.ID},
	} {
		m := sp.Params()
		if m.Alpha < 0.7 || m.Alpha > 0.9 || seen[m.Alpha] {
			t.Errorf("%q: α %.4f; want in [0.7, 0.9] and unlike the others", sp.ID, m.Alpha)
		}
		st := 12 * math.Abs(math.Log2(m.Pitch))
		if st < 2-1e-9 || st > 4+1e-9 {
			t.Errorf("%q: pitch shift %.2f semitones; want 2 to 4", sp.ID, st)
		}
		seen[m.Alpha] = true
	}
	if _, err := anonymize.Voice(readSpeech(t), anonymize.Speaker{}); err == nil {
		t.Error("a voice was disguised without a speaker key")
	}
}
