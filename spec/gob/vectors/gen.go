//go:build ignore

// gen writes the gob test vectors: NAME.gob holds bytes from Go's encoder and
// NAME.json what our decoder must return for them (tagged JSON, see
// tagged.go), taken from Go's own decoding of those bytes. For "params"
// vectors it also records what Go decodes into hoop's AgentConnectionParams.
//
//	cd spec/gob/vectors && GOTOOLCHAIN=local go run gen.go tagged.go
//
// The AgentConnectionParams vectors are encoded first, so their type ids are
// those of a fresh Go process (65 onwards), as a gateway's would typically be.
// Maps with several entries come out in Go's random order, so regenerating
// changes those .gob files without changing their meaning.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"time"
)

type vector struct {
	name, kind, note string
	values           []any // more than one: a stream sharing one Encoder
}

type Scalars struct {
	B    bool
	I    int
	I8   int8
	I16  int16
	I32  int32
	I64  int64
	U    uint
	U8   uint8
	U16  uint16
	U32  uint32
	U64  uint64
	Uptr uintptr
	F32  float32
	F64  float64
	C64  complex64
	C128 complex128
	S    string
	By   []byte
}

type Point struct{ X, Y int }

type Nested struct {
	Name       string
	P          Point
	PP         *Point
	NilP       *Point
	Points     []Point
	Grid       [][]string
	Arr        [3]int
	Bytes4     [4]byte
	Empty      struct{}
	ByKey      map[string]Point
	Lists      map[string][]int
	IntKeys    map[int]string
	UintKeys   map[uint64]bool
	FloatKeys  map[float64]string
	StructKeys map[Point]string
	NilMap     map[string]int
	EmptyMap   map[string]int
	hidden     int
	Skipped    func()
}

type Node struct {
	Val  int
	Kids []Node
	Next *Node
}

type Dyn struct {
	Any  any
	List []any
	M    map[string]any
	Nil  any
}

// BinVal makes gob send a BinaryMarshalerT definition. TextVal shows that gob
// ignores MarshalText (the check is commented out in encoding/gob): it travels
// as a plain string.
type BinVal struct{ A, B uint16 }

func (b BinVal) MarshalBinary() ([]byte, error) {
	return []byte{byte(b.A >> 8), byte(b.A), byte(b.B >> 8), byte(b.B)}, nil
}

func (b *BinVal) UnmarshalBinary(p []byte) error {
	if len(p) != 4 {
		return fmt.Errorf("BinVal: %d bytes", len(p))
	}
	b.A, b.B = uint16(p[0])<<8|uint16(p[1]), uint16(p[2])<<8|uint16(p[3])
	return nil
}

type TextVal string

func (t TextVal) MarshalText() ([]byte, error) { return []byte("text:" + string(t)), nil }
func (t *TextVal) UnmarshalText(p []byte) error {
	*t = TextVal(strings.TrimPrefix(string(p), "text:"))
	return nil
}

type Opaque struct {
	When time.Time
	Bin  BinVal
	Txt  TextVal
}

// legacyParams is the 2023 shape of AgentConnectionParams: fewer fields, and one that is gone.
type legacyParams struct {
	ConnectionName string
	ConnectionType string
	UserID         string
	EnvVars        map[string]any
	CmdList        []string
	ClientArgs     []string
	ClientVerb     string
	ClientOrigin   string
	DLPInfoTypes   []string
	PluginHookList []map[string]any
}

// futureParams has a field hoop may add later; decoders must ignore it.
type futureParams struct {
	ConnectionName string
	ConnectionType string
	EnvVars        map[string]any
	NewSetting     map[string]int
	NewFlag        bool
}

// wrongParams carries the right field names with the wrong types.
type wrongParams struct {
	ConnectionName int
	CmdList        []int
	EnvVars        map[string]any
	UserEmail      string
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func postgres() AgentConnectionParams {
	return AgentConnectionParams{
		ConnectionName:    "pg-prod",
		ConnectionType:    "database",
		ConnectionSubType: "postgres",
		UserID:            "0a1b2c3d-0000-4000-8000-123456789abc",
		UserEmail:         "alice@example.com",
		EnvVars: map[string]any{
			"envvar:HOST":     b64("db.internal"),
			"envvar:PORT":     b64("5432"),
			"envvar:USER":     b64("app"),
			"envvar:PASS":     b64("s3cr3t!"),
			"envvar:DB":       b64("orders"),
			"envvar:SSLMODE":  b64("require"),
			"filesystem:CA":   b64("-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"),
			"envvar:EXTERNAL": b64("_aws:prod/db:password"),
		},
		ClientVerb:             "connect",
		ClientOrigin:           "client",
		DlpProvider:            "mspresidio",
		DlpMode:                "best-effort",
		DLPInfoTypes:           []string{"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD_NUMBER"},
		DlpPresidioAnalyzerURL: "http://presidio-analyzer:3000",
		DataMaskingEntityTypesData: json.RawMessage(
			`[{"name":"pii","entity_types":["EMAIL_ADDRESS"]}]`),
		GuardRailRules: json.RawMessage(`{"input":[],"output":[]}`),
	}
}

func vectors() []vector {
	cmd := make([]string, 1000)
	for i := range cmd {
		cmd[i] = fmt.Sprintf("arg-%04d", i)
	}
	analyzer := postgres()
	analyzer.AISessionAnalyzer = &AISessionAnalyzerParams{
		Provider: "openai", Model: "gpt-4o-mini", APIKey: "sk-test", APIURL: "https://api.example.com/v1",
		RuleName: "block-drops", CustomPrompt: "Flag destructive statements.",
		LowRiskAction: "allow", MediumRiskAction: "warn", HighRiskAction: "block",
	}
	emptyAnalyzer := AgentConnectionParams{ConnectionName: "x", AISessionAnalyzer: &AISessionAnalyzerParams{}}
	deep := &Node{Val: 0}
	for i := 1; i < 40; i++ {
		deep = &Node{Val: i, Next: deep}
	}
	nan := math.NaN()
	return []vector{
		// AgentConnectionParams first: see the package comment.
		{"params-empty", "params", "every field zero: only the struct terminator is sent", []any{AgentConnectionParams{}}},
		{"params-postgres", "params", "a typical postgres session", []any{postgres()}},
		{"params-single-envvar", "params", "one EnvVars entry: byte-for-byte reproducible by our encoder", []any{AgentConnectionParams{
			ConnectionName: "shell", ConnectionType: "application", ConnectionSubType: "command-line",
			EnvVars: map[string]any{"envvar:TOKEN": b64("abc")}, CmdList: []string{"bash", "-l"},
			ClientArgs: []string{"-c", "echo hi"}, ClientVerb: "exec", ClientOrigin: "client-api",
		}}},
		{"params-unicode", "params", "non-ASCII everywhere", []any{AgentConnectionParams{
			ConnectionName: "база-данных", ConnectionType: "database", UserEmail: "José.Müller@例え.jp",
			EnvVars:    map[string]any{"envvar:GRÜSSE": b64("こんにちは 👋"), "filesystem:ÄÖÜ": b64("e\u0301 combining")},
			CmdList:    []string{"psql", "-c", "SELECT '🚀', 'ñ'"},
			ClientArgs: []string{"\u0000nul", "tab\tand\nnewline"},
		}}},
		{"params-large-cmdlist", "params", "1000 CmdList entries", []any{AgentConnectionParams{ConnectionName: "big", CmdList: cmd, ClientArgs: cmd[:10]}}},
		{"params-nil-envvars", "params", "EnvVars nil: the field is omitted", []any{AgentConnectionParams{ConnectionName: "n", EnvVars: nil}}},
		{"params-empty-envvars", "params", "EnvVars empty but not nil: sent with 0 entries", []any{AgentConnectionParams{ConnectionName: "e", EnvVars: map[string]any{}}}},
		{"params-rawmessage", "params", "all three json.RawMessage fields", []any{AgentConnectionParams{
			ConnectionName:             "rules",
			DataMaskingEntityTypesData: json.RawMessage(`[{"id":"1","name":"ünïcode","entity_types":["PERSON"]}]`),
			GuardRailRules:             json.RawMessage(`{"rules":[{"type":"deny_words_list","words":["DROP"]}]}`),
			AnalyzerMetricsRules:       json.RawMessage(`null`),
		}}},
		{"params-ai-analyzer", "params", "AISessionAnalyzer set", []any{analyzer}},
		{"params-ai-analyzer-zero", "params", "AISessionAnalyzer points at a zero struct: sent as an empty struct, not nil", []any{emptyAnalyzer}},
		{"params-envvar-kinds", "params", "EnvVars holding other registered basic types and a nil interface", []any{AgentConnectionParams{
			ConnectionName: "kinds",
			EnvVars: map[string]any{
				"envvar:S": "plain", "envvar:I": 42, "envvar:NEG": -7, "envvar:F": 2.5, "envvar:T": true,
				"envvar:BIG": int64(math.MaxInt64), "envvar:U": uint64(math.MaxUint64), "envvar:NIL": nil,
			},
		}}},
		{"params-legacy", "params", "2023 field set, including the removed PluginHookList", []any{legacyParams{
			ConnectionName: "old", ConnectionType: "postgres", UserID: "u1",
			EnvVars: map[string]any{"envvar:HOST": b64("h")}, CmdList: []string{"psql"}, ClientVerb: "connect",
			DLPInfoTypes:   []string{"EMAIL_ADDRESS"},
			PluginHookList: []map[string]any{{"name": "hook", "config": []string{"a"}}},
		}}},
		{"params-future", "params", "fields unknown to us: ignored", []any{futureParams{
			ConnectionName: "new", ConnectionType: "tcp", EnvVars: map[string]any{"envvar:HOST": b64("h")},
			NewSetting: map[string]int{"x": 1}, NewFlag: true,
		}}},
		{"params-wrong-types", "params", "ConnectionName and CmdList have the wrong types", []any{wrongParams{
			ConnectionName: 5, CmdList: []int{1, 2}, UserEmail: "a@b",
		}}},

		{"strings-empty", "strings", "terminal.args with no arguments", []any{[]string{}}},
		{"strings-args", "strings", "terminal.args", []any{[]string{"-c", "select 1;", "", "ünïcödé ✓", "with\nnewline"}}},
		{"stringmap-empty", "stringmap", "terminal.envvars with no entries", []any{map[string]string{}}},
		{"stringmap-single", "stringmap", "terminal.envvars, one entry", []any{map[string]string{"PGPASSWORD": "s3cr3t"}}},
		{"stringmap-envvars", "stringmap", "terminal.envvars", []any{map[string]string{"PGHOST": "db", "PGPORT": "5432", "EMPTY": "", "ÜML": "ä"}}},

		{"generic-scalars", "generic", "every basic kind at its extremes", []any{Scalars{
			B: true, I: -1, I8: math.MinInt8, I16: math.MaxInt16, I32: math.MinInt32, I64: math.MinInt64,
			U: 1 << 53, U8: math.MaxUint8, U16: 300, U32: math.MaxUint32, U64: math.MaxUint64, Uptr: 0xdeadbeef,
			F32: 3.14, F64: -1e300, C64: complex(1.5, -2), C128: complex(math.Inf(1), 5e-324),
			S: "s", By: []byte{0, 1, 2, 255},
		}}},
		{"generic-scalars-zero", "generic", "all zero: every field absent and zero-filled", []any{Scalars{}}},
		{"generic-scalars-safe-edge", "generic", "ints at ±(2^53-1) stay numbers, one past becomes bigint", []any{Scalars{
			I: 1<<53 - 1, I64: -(1<<53 - 1), U64: 1<<53 + 1, F64: math.SmallestNonzeroFloat64,
		}}},
		{"generic-floats", "generic", "special floats survive in slices, where zeros are sent", []any{[]float64{0, math.Copysign(0, -1), nan, math.Inf(1), math.Inf(-1), 1.5, 1e300, 5e-324, -2.5}}},
		{"generic-nested", "generic", "structs, pointers, arrays, nested slices, maps with non-string keys", []any{Nested{
			Name: "n", P: Point{1, 2}, PP: &Point{-3, 4}, Points: []Point{{0, 0}, {5, 6}},
			Grid: [][]string{{"a", "b"}, {}, {"c"}}, Arr: [3]int{7, 0, -9}, Bytes4: [4]byte{1, 2, 3, 4},
			ByKey: map[string]Point{"origin": {}, "p": {1, 1}}, Lists: map[string][]int{"a": {1, 2}, "e": {}},
			IntKeys: map[int]string{-1: "neg", 0: "zero", 1 << 40: "big"}, UintKeys: map[uint64]bool{math.MaxUint64: true, 1: false},
			FloatKeys: map[float64]string{1.5: "x", -0.25: "y"}, StructKeys: map[Point]string{{1, 2}: "a", {3, 4}: "b"},
			EmptyMap: map[string]int{}, hidden: 9,
		}}},
		{"generic-recursive", "generic", "a self-referencing type", []any{Node{Val: 1, Kids: []Node{{Val: 2}, {Val: 3, Kids: []Node{{Val: 4}}}}, Next: &Node{Val: 5}}}},
		{"generic-deep-list", "generic", "40 levels of pointers", []any{*deep}},
		{"generic-interfaces", "generic", "interface values, some defining types inside nested interfaces", []any{Dyn{
			Any: Point{1, 2},
			List: []any{1, "two", 3.5, true, nil, []string{"a"}, Point{3, 4}, map[string]int{"k": 1},
				[]any{"nested", Point{5, 6}, map[int]Point{7: {8, 9}}}, int64(-1 << 62), uint64(1 << 63), []byte{1, 2}, complex(1, 2)},
			M: map[string]any{"s": "v", "p": Point{0, 1}, "nil": nil, "deep": map[string]any{"x": []any{Node{Val: 1}}}},
		}}},
		{"generic-opaque", "generic", "GobEncoder and BinaryMarshaler types; a TextMarshaler is sent as its underlying string", []any{Opaque{
			When: time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC), Bin: BinVal{0x0102, 0xfffe}, Txt: "hi",
		}}},
		{"generic-top-int", "generic", "a top-level int singleton", []any{int64(-12345)}},
		{"generic-top-string", "generic", "a top-level string singleton", []any{"héllo"}},
		{"generic-top-intmap", "generic", "a top-level map with int keys", []any{map[int]string{1: "one", -2: "minus two"}}},
		{"generic-top-array", "generic", "a top-level array", []any{[2]string{"a", ""}}},
		{"generic-top-structs", "generic", "a top-level slice of structs", []any{[]Point{{1, 2}, {0, 0}}}},
		{"stream-mixed", "stream", "several values on one Encoder: types are defined once", []any{Point{1, 2}, Point{3, 4}, "str", []Point{{5, 6}}, map[string]Point{"k": {7, 8}}}},
	}
}

func main() {
	for _, t := range []any{Point{}, map[string]int{}, []any{}, map[int]Point{}, map[string]any{}, Node{}} {
		gob.Register(t)
	}
	for _, v := range vectors() {
		var buf bytes.Buffer
		enc := gob.NewEncoder(&buf)
		for _, value := range v.values {
			must(enc.Encode(value))
		}
		dec := gob.NewDecoder(bytes.NewReader(buf.Bytes()))
		decoded := make([]any, len(v.values))
		for i, value := range v.values {
			target := reflect.New(reflect.TypeOf(value))
			must(dec.Decode(target.Interface()))
			decoded[i] = tag(target.Elem())
		}
		out := map[string]any{"kind": v.kind, "note": v.note, "value": decoded[0]}
		if v.kind == "stream" {
			out["value"] = decoded
		}
		if v.kind == "params" {
			var params AgentConnectionParams
			if err := gob.NewDecoder(bytes.NewReader(buf.Bytes())).Decode(&params); err != nil {
				out["paramsError"] = err.Error()
			} else {
				out["params"] = tag(reflect.ValueOf(params))
			}
		}
		must(os.WriteFile(v.name+".gob", buf.Bytes(), 0o644))
		must(os.WriteFile(v.name+".json", encodeJSON(out, true), 0o644))
		fmt.Printf("%-28s %6d bytes\n", v.name, buf.Len())
	}
}
