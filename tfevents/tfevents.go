// Package tfevents writes and reads TensorBoard event files
// (events.out.tfevents.*): TFRecord framing around tensorflow.Event protos with
// scalar summaries. It is pure Go — no TensorFlow needed — so train writes its
// curves and eval reads them back for plots with the same code.
//
// Format (tensorflow/core/lib/io/record_writer.cc): each record is
//
//	uint64 length (little endian) | uint32 masked crc32c(length) | data | uint32 masked crc32c(data)
//
// and data is a serialized Event (tensorflow/core/util/event.proto):
// wall_time=1 (double), step=2 (int64), file_version=3 (string),
// summary=5 (Summary{repeated Value value=1; Value{tag=1, simple_value=2}}),
// session_log=6 (SessionLog{status=1}).
package tfevents

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TFRecord's masked CRC32-C.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, crcTable)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// Writer appends events to one event file. It is safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	path string
	now  func() time.Time
}

// NewWriter creates a new event file in dir, named as TensorFlow names them
// (events.out.tfevents.<unix seconds>.<host>.<pid>), and writes the file-version
// header event. A resumed run gets a new file; TensorBoard merges them.
func NewWriter(dir string) (*Writer, error) {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	now := time.Now()
	name := fmt.Sprintf("events.out.tfevents.%d.%s.%d.%d", now.Unix(), host, os.Getpid(), now.Nanosecond())
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create event file: %w", err)
	}
	w := &Writer{f: f, w: bufio.NewWriter(f), path: path, now: time.Now}
	ev := protowire.AppendTag(nil, 1, protowire.Fixed64Type)
	ev = protowire.AppendFixed64(ev, math.Float64bits(w.wallTime()))
	ev = protowire.AppendTag(ev, 3, protowire.BytesType)
	ev = protowire.AppendString(ev, "brain.Event:2")
	if err := w.writeRecord(ev); err != nil {
		f.Close()
		return nil, err
	}
	return w, w.Flush()
}

// Path returns the event file's path.
func (w *Writer) Path() string { return w.path }

func (w *Writer) wallTime() float64 {
	return float64(w.now().UnixNano()) / 1e9
}

func (w *Writer) writeRecord(data []byte) error {
	var hdr [12]byte
	binary.LittleEndian.PutUint64(hdr[:8], uint64(len(data)))
	binary.LittleEndian.PutUint32(hdr[8:], maskedCRC(hdr[:8]))
	var ftr [4]byte
	binary.LittleEndian.PutUint32(ftr[:], maskedCRC(data))
	for _, b := range [][]byte{hdr[:], data, ftr[:]} {
		if _, err := w.w.Write(b); err != nil {
			return fmt.Errorf("write event file %s: %w", w.path, err)
		}
	}
	return nil
}

// Scalars writes one event at step holding the given tag → value scalars
// (written in sorted tag order).
func (w *Writer) Scalars(step int64, values map[string]float64) error {
	tags := make([]string, 0, len(values))
	for t := range values {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	var summary []byte
	for _, t := range tags {
		var v []byte
		v = protowire.AppendTag(v, 1, protowire.BytesType)
		v = protowire.AppendString(v, t)
		v = protowire.AppendTag(v, 2, protowire.Fixed32Type)
		v = protowire.AppendFixed32(v, math.Float32bits(float32(values[t])))
		summary = protowire.AppendTag(summary, 1, protowire.BytesType)
		summary = protowire.AppendBytes(summary, v)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeRecord(w.event(step, 5, summary))
}

// SessionStart records that the run (re)starts at step: TensorBoard then
// discards events of an earlier, crashed attempt at steps >= step, so the
// curves of a resumed run do not double back. A run resumed from a checkpoint
// at step N passes N+1: what was logged up to N is still true.
func (w *Writer) SessionStart(step int64) error {
	var sl []byte
	sl = protowire.AppendTag(sl, 1, protowire.VarintType)
	sl = protowire.AppendVarint(sl, 1) // SessionLog.START
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeRecord(w.event(step, 6, sl))
}

func (w *Writer) event(step int64, field protowire.Number, payload []byte) []byte {
	ev := protowire.AppendTag(nil, 1, protowire.Fixed64Type)
	ev = protowire.AppendFixed64(ev, math.Float64bits(w.wallTime()))
	ev = protowire.AppendTag(ev, 2, protowire.VarintType)
	ev = protowire.AppendVarint(ev, uint64(step))
	ev = protowire.AppendTag(ev, field, protowire.BytesType)
	return protowire.AppendBytes(ev, payload)
}

// Flush pushes buffered events to the operating system so TensorBoard sees them.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("flush event file %s: %w", w.path, err)
	}
	return nil
}

// Close flushes, syncs and closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.w.Flush()
	if serr := w.f.Sync(); err == nil {
		err = serr
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close event file %s: %w", w.path, err)
	}
	return nil
}

// Point is one scalar value at a step.
type Point struct {
	Step     int64
	WallTime float64
	Value    float64
}

// ErrCorrupt is returned for a record whose checksum does not match.
var ErrCorrupt = errors.New("corrupt event record")

// ReadScalars reads every scalar of one event file, by tag, in file order. A
// truncated last record (a run killed mid-write) ends the file without error.
// SessionLog START events drop earlier points with a step ≥ the restart step,
// as TensorBoard does.
func ReadScalars(path string) (map[string][]Point, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]Point{}
	if err := readRecords(bufio.NewReader(f), func(data []byte) error {
		return parseEvent(data, out)
	}); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// ReadDir reads and merges every events.out.tfevents.* file in dir (not
// recursive) in name order, which is creation-time order, as one stream: a
// SessionLog START in a later file (a resumed run) drops the earlier files'
// points at and after its step, as TensorBoard does. Points are sorted by step.
func ReadDir(dir string) (map[string][]Point, error) {
	files, err := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	merged := map[string][]Point{}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		err = readRecords(bufio.NewReader(f), func(data []byte) error { return parseEvent(data, merged) })
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
	for _, pts := range merged {
		sort.SliceStable(pts, func(i, j int) bool { return pts[i].Step < pts[j].Step })
	}
	return merged, nil
}

func readRecords(r io.Reader, fn func([]byte) error) error {
	var hdr [12]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil
			}
			return err
		}
		if binary.LittleEndian.Uint32(hdr[8:]) != maskedCRC(hdr[:8]) {
			return fmt.Errorf("%w: bad length checksum", ErrCorrupt)
		}
		n := binary.LittleEndian.Uint64(hdr[:8])
		if n > 64<<20 {
			return fmt.Errorf("%w: record of %d bytes", ErrCorrupt, n)
		}
		data := make([]byte, n+4)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil // truncated tail: a writer was killed mid-record
		}
		if binary.LittleEndian.Uint32(data[n:]) != maskedCRC(data[:n]) {
			return fmt.Errorf("%w: bad data checksum", ErrCorrupt)
		}
		if err := fn(data[:n]); err != nil {
			return err
		}
	}
}

func parseEvent(b []byte, out map[string][]Point) error {
	var p Point
	var summary []byte
	restart := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrCorrupt, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return ErrCorrupt
			}
			p.WallTime, b = math.Float64frombits(v), b[n:]
		case num == 2 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return ErrCorrupt
			}
			p.Step, b = int64(v), b[n:]
		case num == 5 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return ErrCorrupt
			}
			summary, b = v, b[n:]
		case num == 6 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return ErrCorrupt
			}
			restart, b = sessionStart(v), b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return ErrCorrupt
			}
			b = b[n:]
		}
	}
	if restart {
		for tag, pts := range out {
			kept := pts[:0]
			for _, q := range pts {
				if q.Step < p.Step {
					kept = append(kept, q)
				}
			}
			out[tag] = kept
		}
	}
	return parseSummary(summary, p, out)
}

func sessionStart(b []byte) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if num == 1 && typ == protowire.VarintType {
			v, _ := protowire.ConsumeVarint(b)
			return v == 1
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return false
		}
		b = b[n:]
	}
	return false
}

func parseSummary(b []byte, p Point, out map[string][]Point) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ErrCorrupt
		}
		b = b[n:]
		if num != 1 || typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return ErrCorrupt
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return ErrCorrupt
		}
		b = b[n:]
		tag, val, ok := parseValue(v)
		if ok {
			q := p
			q.Value = val
			out[tag] = append(out[tag], q)
		}
	}
	return nil
}

func parseValue(b []byte) (tag string, val float64, ok bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", 0, false
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeString(b)
			if n < 0 {
				return "", 0, false
			}
			tag, b = v, b[n:]
		case num == 2 && typ == protowire.Fixed32Type:
			v, n := protowire.ConsumeFixed32(b)
			if n < 0 {
				return "", 0, false
			}
			val, ok, b = float64(math.Float32frombits(v)), true, b[n:]
		default:
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return "", 0, false
			}
			b = b[n:]
		}
	}
	return tag, val, ok
}
