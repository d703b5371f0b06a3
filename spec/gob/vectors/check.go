//go:build ignore

// check decodes gob files written by our TypeScript encoder with Go's own
// decoder and prints one JSON line per file (tagged JSON, see tagged.go):
//
//	go run check.go tagged.go params=a.gob strings=b.gob stringmap=c.gob
//	{"file":"a.gob","ok":true,"value":{...},"trailing":false}
//
// params decodes into hoop's AgentConnectionParams, strings into []string,
// stringmap into map[string]string. "trailing" is true when bytes follow the
// value, which hoop would silently ignore but our encoder must not produce.
package main

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
)

func main() {
	for _, arg := range os.Args[1:] {
		kind, file, found := strings.Cut(arg, "=")
		if !found {
			must(fmt.Errorf("argument %q is not kind=file", arg))
		}
		var target any
		switch kind {
		case "params":
			target = new(AgentConnectionParams)
		case "strings":
			target = new([]string)
		case "stringmap":
			target = new(map[string]string)
		default:
			must(fmt.Errorf("unknown kind %q", kind))
		}
		data, err := os.ReadFile(file)
		must(err)
		line := map[string]any{"file": file}
		dec := gob.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(target); err != nil {
			line["ok"] = false
			line["error"] = err.Error()
		} else {
			line["ok"] = true
			line["value"] = tag(reflect.ValueOf(target).Elem())
			line["trailing"] = !errors.Is(dec.Decode(new(struct{})), io.EOF)
		}
		os.Stdout.Write(encodeJSON(line, false))
	}
}
