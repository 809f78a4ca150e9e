package tfevents

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseEvent feeds arbitrary event payloads, framed as valid records (so
// the checksums pass and the protobuf parser sees the bytes), through the
// reader: it must return points or an error, never panic or hang. Seeds: the
// records of a real event file (scalars and a SessionLog START) and the
// corpus in testdata/fuzz/FuzzParseEvent.
func FuzzParseEvent(f *testing.F) {
	dir := f.TempDir()
	w, err := NewWriter(dir)
	if err != nil {
		f.Fatal(err)
	}
	w.Scalars(10, map[string]float64{"loss": 0.5, "val/top1": 0.25})
	w.SessionStart(10)
	w.Close()
	raw, err := os.ReadFile(w.Path())
	if err != nil {
		f.Fatal(err)
	}
	readRecords(bytes.NewReader(raw), func(b []byte) error {
		f.Add(append([]byte(nil), b...))
		return nil
	})
	f.Fuzz(func(t *testing.T, payload []byte) {
		var rec bytes.Buffer
		var hdr [12]byte
		binary.LittleEndian.PutUint64(hdr[:8], uint64(len(payload)))
		binary.LittleEndian.PutUint32(hdr[8:], maskedCRC(hdr[:8]))
		rec.Write(hdr[:])
		rec.Write(payload)
		var crc [4]byte
		binary.LittleEndian.PutUint32(crc[:], maskedCRC(payload))
		rec.Write(crc[:])
		// Twice, so a START in the second record meets points of the first.
		framed := append(rec.Bytes(), rec.Bytes()...)
		out := map[string][]Point{}
		readRecords(bytes.NewReader(framed), func(b []byte) error { return parseEvent(b, out) })

		// The same bytes as a file, cut anywhere: a truncated tail is not an error
		// unless the cut lands in the length header's checksum-protected part.
		p := filepath.Join(t.TempDir(), "events.out.tfevents.1")
		os.WriteFile(p, framed[:len(framed)-len(framed)/3], 0o644)
		ReadScalars(p)
	})
}
