package usage

import "testing"

// BenchmarkMeter measures reading the usage of each fixture answer, fed in
// 512-byte pieces as a network would deliver them.
func BenchmarkMeter(b *testing.B) {
	for _, f := range fixtures {
		body := readFixture(b, f.file)
		b.Run(f.file, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				meterPieces(f.ctype, "", body, 512)
			}
		})
	}
}

// BenchmarkClient measures naming the client from a User-Agent.
func BenchmarkClient(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Client("claude-cli/2.1.197 (external, sdk-cli)", "")
	}
}
