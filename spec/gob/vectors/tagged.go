//go:build ignore

// Shared by gen.go and check.go (run them as `go run gen.go tagged.go` and
// `go run check.go tagged.go`): hoop's AgentConnectionParams, and a JSON
// rendering of decoded Go values in the shape our TypeScript decoder returns.
//
// Tagged JSON: plain JSON where it is exact, otherwise one-key objects:
//   {"$bigint": "123"}        ints beyond ±(2^53-1)
//   {"$float": "NaN"}         NaN, Infinity, -Infinity, -0
//   {"$bytes": "<base64>"}    []byte, and GobEncoder/BinaryMarshaler payloads
//   {"$complex": [re, im]}
//   {"$map": [[k, v], ...]}   maps whose keys are not strings
// Structs and string-keyed maps are JSON objects; nil slices are [] (gob cannot
// tell them from empty ones); nil maps, pointers and interfaces are null.

package main

import (
	"encoding"
	"encoding/base64"
	"encoding/gob"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"sort"
	"strconv"
)

type AISessionAnalyzerParams struct {
	Provider         string
	Model            string
	APIKey           string
	APIURL           string
	RuleName         string
	CustomPrompt     string
	LowRiskAction    string
	MediumRiskAction string
	HighRiskAction   string
}

// AgentConnectionParams mirrors hoop's common/proto/types.go.
type AgentConnectionParams struct {
	ConnectionName    string
	ConnectionType    string
	ConnectionSubType string
	UserID            string
	UserEmail         string
	EnvVars           map[string]any
	CmdList           []string
	ClientArgs        []string
	ClientVerb        string
	ClientOrigin      string

	DlpProvider              string
	DlpMode                  string
	DLPInfoTypes             []string
	DlpGcpRawCredentialsJSON string
	DlpPresidioAnalyzerURL   string
	DlpPresidioAnonymizerURL string

	DataMaskingEntityTypesData json.RawMessage
	GuardRailRules             json.RawMessage
	AnalyzerMetricsRules       json.RawMessage
	AISessionAnalyzer          *AISessionAnalyzerParams
}

var (
	gobEncoderType = reflect.TypeOf((*gob.GobEncoder)(nil)).Elem()
	binaryType     = reflect.TypeOf((*encoding.BinaryMarshaler)(nil)).Elem()
)

const maxSafe = 1<<53 - 1

func tag(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		if v.Kind() == reflect.Interface {
			return tag(v.Elem())
		}
	}
	// gob prefers these, in this order, over the type's own structure. It
	// never uses MarshalText: encoding/gob has that check commented out.
	if v.Type().Implements(gobEncoderType) {
		b, err := v.Interface().(gob.GobEncoder).GobEncode()
		must(err)
		return bytesTag(b)
	}
	if v.Type().Implements(binaryType) {
		b, err := v.Interface().(encoding.BinaryMarshaler).MarshalBinary()
		must(err)
		return bytesTag(b)
	}
	switch v.Kind() {
	case reflect.Pointer:
		return tag(v.Elem())
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i := v.Int()
		if i > maxSafe || i < -maxSafe {
			return map[string]any{"$bigint": strconv.FormatInt(i, 10)}
		}
		return i
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := v.Uint()
		if u > maxSafe {
			return map[string]any{"$bigint": strconv.FormatUint(u, 10)}
		}
		return u
	case reflect.Float32, reflect.Float64:
		return floatTag(v.Float())
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		return map[string]any{"$complex": []any{floatTag(real(c)), floatTag(imag(c))}}
	case reflect.String:
		return v.String()
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return bytesTag(v.Bytes())
		}
		return list(v)
	case reflect.Array:
		return list(v)
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		if v.Type().Key().Kind() == reflect.String {
			out := map[string]any{}
			for it := v.MapRange(); it.Next(); {
				out[it.Key().String()] = tag(it.Value())
			}
			return out
		}
		entries := [][]any{}
		for it := v.MapRange(); it.Next(); {
			entries = append(entries, []any{tag(it.Key()), tag(it.Value())})
		}
		// Go's map order is random; sort so regenerated files only change when values do.
		sort.Slice(entries, func(i, j int) bool { return jsonText(entries[i][0]) < jsonText(entries[j][0]) })
		return map[string]any{"$map": entries}
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.IsExported() && !unsent(f.Type) {
				out[f.Name] = tag(v.Field(i))
			}
		}
		return out
	}
	panic("tag: unsupported kind " + v.Kind().String())
}

// gob skips chan and func fields as if they were unexported.
func unsent(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Chan || t.Kind() == reflect.Func
}

func list(v reflect.Value) []any {
	out := make([]any, v.Len())
	for i := range out {
		out[i] = tag(v.Index(i))
	}
	return out
}

func bytesTag(b []byte) any {
	return map[string]any{"$bytes": base64.StdEncoding.EncodeToString(b)}
}

func floatTag(f float64) any {
	switch {
	case math.IsNaN(f):
		return map[string]any{"$float": "NaN"}
	case math.IsInf(f, 1):
		return map[string]any{"$float": "Infinity"}
	case math.IsInf(f, -1):
		return map[string]any{"$float": "-Infinity"}
	case f == 0 && math.Signbit(f):
		return map[string]any{"$float": "-0"}
	}
	return f
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	must(err)
	return string(b)
}

func encodeJSON(v any, indent bool) []byte {
	var out []byte
	var err error
	if indent {
		out, err = json.MarshalIndent(v, "", "  ")
	} else {
		out, err = json.Marshal(v)
	}
	must(err)
	return append(out, '\n')
}

func must(err error) {
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
}
