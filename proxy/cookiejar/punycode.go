package cookiejar

// Punycode (RFC 3492) encoding of non-ASCII host labels, copied from Go's
// net/http/cookiejar/punycode.go (BSD licence, Copyright 2012 The Go Authors)
// so that canonicalHost gives byte-for-byte the host the standard jar uses.

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

const (
	pcBase        int32 = 36
	pcDamp        int32 = 700
	pcInitialBias int32 = 72
	pcInitialN    int32 = 128
	pcSkew        int32 = 38
	pcTmax        int32 = 26
	pcTmin        int32 = 1
	acePrefix           = "xn--"
)

// punyEncode encodes s as RFC 3492 section 6.3 says and prepends prefix.
func punyEncode(prefix, s string) (string, error) {
	output := make([]byte, len(prefix), len(prefix)+1+2*len(s))
	copy(output, prefix)
	delta, n, bias := int32(0), pcInitialN, pcInitialBias
	b, remaining := int32(0), int32(0)
	for _, r := range s {
		if r < utf8.RuneSelf {
			b++
			output = append(output, byte(r))
		} else {
			remaining++
		}
	}
	h := b
	if b > 0 {
		output = append(output, '-')
	}
	for remaining != 0 {
		m := int32(0x7fffffff)
		for _, r := range s {
			if m > r && r >= n {
				m = r
			}
		}
		delta += (m - n) * (h + 1)
		if delta < 0 {
			return "", fmt.Errorf("cookiejar: invalid host label")
		}
		n = m
		for _, r := range s {
			if r < n {
				delta++
				if delta < 0 {
					return "", fmt.Errorf("cookiejar: invalid host label")
				}
				continue
			}
			if r > n {
				continue
			}
			q := delta
			for k := pcBase; ; k += pcBase {
				t := k - bias
				if t < pcTmin {
					t = pcTmin
				} else if t > pcTmax {
					t = pcTmax
				}
				if q < t {
					break
				}
				output = append(output, punyDigit(t+(q-t)%(pcBase-t)))
				q = (q - t) / (pcBase - t)
			}
			output = append(output, punyDigit(q))
			bias = punyAdapt(delta, h+1, h == b)
			delta = 0
			h++
			remaining--
		}
		delta++
		n++
	}
	return string(output), nil
}

// punyDigit maps 0..35 to a..z0..9. Callers only pass digits in range.
func punyDigit(digit int32) byte {
	switch {
	case 0 <= digit && digit < 26:
		return byte(digit + 'a')
	case 26 <= digit && digit < 36:
		return byte(digit + ('0' - 26))
	}
	panic("cookiejar: internal error in punycode encoding")
}

// punyAdapt is the bias adaptation function of RFC 3492 section 6.1.
func punyAdapt(delta, numPoints int32, firstTime bool) int32 {
	if firstTime {
		delta /= pcDamp
	} else {
		delta /= 2
	}
	delta += delta / numPoints
	k := int32(0)
	for delta > ((pcBase-pcTmin)*pcTmax)/2 {
		delta /= pcBase - pcTmin
		k += pcBase
	}
	return k + (pcBase-pcTmin+1)*delta/(delta+pcSkew)
}

// toASCII converts a host name to its ASCII form label by label, e.g.
// "bücher.example.com" to "xn--bcher-kva.example.com".
func toASCII(s string) (string, error) {
	if asciiIs(s) {
		return s, nil
	}
	labels := strings.Split(s, ".")
	for i, label := range labels {
		if !asciiIs(label) {
			a, err := punyEncode(acePrefix, label)
			if err != nil {
				return "", err
			}
			labels[i] = a
		}
	}
	return strings.Join(labels, "."), nil
}
