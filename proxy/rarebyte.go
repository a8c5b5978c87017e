package proxy

import (
	"bytes"
	"strings"
)

// finder looks for one secret value in a body.
//
// Secrets start with fixed prefixes ("sk-ant-oat01-", "ghp_", "sk-proj-")
// whose first bytes are among the most common in the JSON, text and code an
// API sends. bytes.Index anchors on the first byte: in the download benchmark
// ('a' to 'z' repeated) that stopped it every 26 bytes, and the leak guard
// became the largest cost of relaying a body after the system calls. finder
// anchors on the value's rarest byte instead, by the ranking in rarity,
// which is mostly in a secret's random tail (an upper-case letter or a
// digit), so that IndexByte skips whole stretches of an ordinary body.
type finder struct {
	value  []byte
	at     int  // offset of the anchor byte in value
	anchor byte // value[at]
}

func newFinder(v []byte) finder {
	f := finder{value: v}
	for i, b := range v {
		if rarity(b) > rarity(v[f.at]) {
			f.at = i
		}
	}
	f.anchor = v[f.at]
	return f
}

// index returns the first position at or after from where value starts in
// s, or -1.
func (f *finder) index(s []byte, from int) int {
	n := len(f.value)
	last := len(s) - n + f.at // the last place the anchor can be
	for i := from + f.at; i <= last; i++ {
		o := bytes.IndexByte(s[i:last+1], f.anchor)
		if o < 0 {
			return -1
		}
		i += o
		if start := i - f.at; bytes.Equal(s[start:start+n], f.value) {
			return start
		}
	}
	return -1
}

// rarity ranks how seldom a byte occurs in what APIs send back (JSON, prose,
// source code, base64), higher being rarer. It is a coarse ranking by
// classes, which is all an anchor needs: bytes outside printable ASCII are
// rarest, then upper-case letters and the symbols JSON and prose seldom use,
// then digits and the less frequent lower-case letters; spaces, quotes,
// common punctuation and the frequent letters are last.
func rarity(b byte) int {
	switch {
	case b >= 0x80 || (b < 0x20 && b != '\t' && b != '\n' && b != '\r'):
		return 9
	case b >= 'A' && b <= 'Z':
		switch b {
		case 'Q', 'X', 'Z', 'J', 'K', 'V', 'Y', 'W', 'U', 'G':
			return 8
		}
		return 7
	case strings.IndexByte("~^`|@#$%&*+=<>!?;\\", b) >= 0:
		return 7
	case b >= '0' && b <= '9':
		if b == '0' || b == '1' || b == '2' {
			return 5
		}
		return 6
	case strings.IndexByte("qxzjkvbwyg", b) >= 0:
		return 6
	case strings.IndexByte("pfmuchld", b) >= 0:
		return 4
	case b >= 'a' && b <= 'z':
		return 3
	case strings.IndexByte("[](){}'", b) >= 0:
		return 4
	default: // space, tab, newline, quote, comma, colon, period, slash, hyphen, underscore
		return 1
	}
}
