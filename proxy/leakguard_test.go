package proxy

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/clauderon/clauderon"
)

func redactorFor(pairs ...string) *redactor {
	var rs []clauderon.Redaction
	for i := 0; i+1 < len(pairs); i += 2 {
		rs = append(rs, clauderon.Redaction{Value: clauderon.NewSecret(pairs[i]), Placeholder: pairs[i+1]})
	}
	return newRedactor(rs)
}

// chunked yields src in pieces of the given sizes (cycled), like an upstream
// flushing at arbitrary points.
type chunked struct {
	src   []byte
	sizes []int
	i     int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.src) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(c.sizes) > 0 {
		n = max(1, c.sizes[c.i%len(c.sizes)])
		c.i++
	}
	n = min(n, len(c.src), len(p))
	copy(p, c.src[:n])
	c.src = c.src[n:]
	return n, nil
}

func guarded(t testing.TB, r *redactor, in string, sizes []int, readSize int) string {
	g := r.guard(io.NopCloser(&chunked{src: []byte(in), sizes: sizes}), nil)
	defer g.Close()
	var out bytes.Buffer
	buf := make([]byte, readSize)
	for {
		n, err := g.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.String()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestLeakGuard(t *testing.T) {
	t.Parallel()
	r := redactorFor("SECRET-abc", "<PH1>", "SECRET-abcdef", "<PH2>", "xy", "<PH3>")
	cases := []struct{ name, in string }{
		{"none", "nothing to see here"},
		{"whole", "SECRET-abc"},
		{"longest wins", "a SECRET-abcdef b"},
		{"prefix then other", "SECRET-abSECRET-abc"},
		{"adjacent", "SECRET-abcSECRET-abcxyxy"},
		{"partial at end", "tail SECRET-ab"},
		{"short inside held", "SECRET-xy"},
		{"empty", ""},
	}
	want := strings.NewReplacer(r.pairs()...)
	for _, tc := range cases {
		for _, sizes := range [][]int{{1}, {2, 3}, {7}, {1 << 20}} {
			for _, readSize := range []int{1, 5, 4096} {
				if got := guarded(t, r, tc.in, sizes, readSize); got != want.Replace(tc.in) {
					t.Errorf("%s (chunks %v, reads %d): %q, want %q", tc.name, sizes, readSize, got, want.Replace(tc.in))
				}
			}
		}
	}
}

// TestLeakGuardReleasesEventsAtOnce: only a possible start of a secret is
// held back; a complete SSE event comes out of the read that delivered it.
// (Each Read below would block forever if the guard waited for more input.)
func TestLeakGuardReleasesEventsAtOnce(t *testing.T) {
	t.Parallel()
	r := redactorFor("sk-ant-oat01-REAL", "sk-ant-oat01-PH")
	pr, pw := io.Pipe()
	g := r.guard(pr, nil)
	defer g.Close()
	steps := []struct{ write, want string }{
		{"data: 1\n\n", "data: 1\n\n"},
		{"data: sk-ant-", "data: "}, // "sk-ant-" may start the secret
		{"oat01-REAL\n\n", "sk-ant-oat01-PH\n\n"},
		{"data: sk-ant-o", "data: "},
		{"k\n\n", "sk-ant-ok\n\n"}, // not the secret after all: released
	}
	buf := make([]byte, 4096)
	for _, st := range steps {
		go pw.Write([]byte(st.write))
		var got []byte
		for len(got) < len(st.want) {
			n, err := g.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, buf[:n]...)
		}
		if string(got) != st.want {
			t.Errorf("wrote %q, read %q, want %q", st.write, got, st.want)
		}
	}
	pw.Close()
	if n, err := g.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("after close: %d, %v", n, err)
	}
}

func TestRedactHeader(t *testing.T) {
	t.Parallel()
	r := redactorFor("s3cr3t", "PH")
	h := map[string][]string{"A": {"x s3cr3t y", "clean"}, "B": {"s3cr3ts3cr3t"}}
	r.redactHeader(h)
	if h["A"][0] != "x PH y" || h["A"][1] != "clean" || h["B"][0] != "PHPH" {
		t.Errorf("got %v", h)
	}
	var none *redactor
	none.redactHeader(h) // nil redactor passes through
	if newRedactor(nil) != nil {
		t.Errorf("empty redactor is not nil")
	}
}

// FuzzLeakGuard: for any input, secrets and chunking, the streamed output
// equals strings.Replacer over the whole input.
func FuzzLeakGuard(f *testing.F) {
	f.Add("data: sk-ant-oat01-XYZ\n\n", "sk-ant-oat01-XYZ", "ab", []byte{1, 2, 3}, uint16(7))
	f.Add("aaaaab", "aab", "a", []byte{1}, uint16(1))
	f.Add("", "x", "y", []byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, in, s1, s2 string, sizes []byte, readSize uint16) {
		if s1 == "" || s2 == "" || len(in) > 1<<16 {
			t.Skip()
		}
		r := redactorFor(s1, "[PH1]", s2, "[PH2]")
		ints := make([]int, len(sizes))
		for i, s := range sizes {
			ints[i] = int(s)
		}
		want := strings.NewReplacer(r.pairs()...).Replace(in)
		if got := guarded(t, r, in, ints, int(readSize%300)+1); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		if got := r.redactString(in); got != want {
			t.Fatalf("redactString %q, want %q", got, want)
		}
	})
}

func TestGuardPassesErrors(t *testing.T) {
	t.Parallel()
	r := redactorFor("secret", "PH")
	// The stream breaks right after what may be the start of the secret:
	// that part is dropped, never released.
	g := r.guard(io.NopCloser(iotest.TimeoutReader(strings.NewReader("secret and more secr"))), nil)
	b, err := io.ReadAll(g)
	if err != iotest.ErrTimeout || string(b) != "PH and more " {
		t.Errorf("got %q, %v", b, err)
	}
}

func BenchmarkLeakGuard(b *testing.B) {
	oauth, apiKey := "sk-ant-oat01-"+strings.Repeat("Q", 95), "sk-ant-api03-"+strings.Repeat("Z", 95)
	two := redactorFor(oauth, oauthPH, apiKey, apiKeyPH)
	// Five credentials with realistic tails (letters and digits mixed).
	five := redactorFor(oauth[:13]+"x7Kq2LmN9pR4sT8vW1yZ3bD5fH6jG0cE", oauthPH, apiKey[:13]+"a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuV", apiKeyPH,
		"ghp_"+"Xy12Ab34Cd56Ef78Gh90Ij12Kl34Mn56Op78", "gh-PH", "sk-proj-"+"Tz9Wq8Ve7Ur6Ts5Rq4Pp3Oo2Nn1Mm0Ll", "oa-PH",
		"AIzaSy"+"B7c6D5e4F3g2H1i0J9k8L7m6N5o4P3q", "gem-PH")
	letters := make([]byte, 128<<10)
	for i := range letters {
		letters[i] = 'a' + byte(i%26)
	}
	sse := bytes.Repeat([]byte("data: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"sk-ant- hello\"}}\n\n"), 4096)
	prose := bytes.Repeat([]byte(`{"role":"assistant","content":"The function returns the session's state; see gitrepo/worktree.go and the tests next to it."}`+"\n"), 2048)
	for _, c := range []struct {
		name string
		r    *redactor
		body []byte
	}{{"sse-2", two, sse}, {"letters-2", two, letters}, {"prose-5", five, prose}, {"letters-5", five, letters}} {
		b.Run(c.name, func(b *testing.B) {
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				g := c.r.guard(io.NopCloser(bytes.NewReader(c.body)), nil)
				for {
					if _, err := g.Read(buf); err != nil {
						break
					}
				}
				g.Close()
			}
		})
	}
}

// finder agrees with bytes.Index everywhere: bodies from a small alphabet
// make near misses on every side of the anchor, at every offset.
func TestFinderMatchesBytesIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		alpha := "abAB-"[:2+rng.IntN(4)]
		word := func(n int) []byte {
			b := make([]byte, n)
			for i := range b {
				b[i] = alpha[rng.IntN(len(alpha))]
			}
			return b
		}
		v := word(1 + rng.IntN(6))
		s := word(rng.IntN(40))
		from := rng.IntN(len(s) + 1)
		f := newFinder(v)
		want := bytes.Index(s[from:], v)
		if want >= 0 {
			want += from
		}
		if got := f.index(s, from); got != want {
			t.Fatalf("index(%q, %d) for %q (anchor %d) = %d, want %d", s, from, v, f.at, got, want)
		}
	}
}

// The anchor falls in a secret's random tail, not its common prefix.
func TestFinderAnchorsOnARareByte(t *testing.T) {
	for v, want := range map[string]byte{
		"sk-ant-oat01-abcdefQhijk": 'Q',
		"ghp_ab1V2":                'V',
		"sk-proj-Tz9":              'T',
		"gho_abc":                  'g', // ties go to the first
	} {
		if f := newFinder([]byte(v)); f.anchor != want {
			t.Errorf("%s: anchor %q, want %q", v, f.anchor, want)
		}
	}
}
