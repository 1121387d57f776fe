// Command yaml_v3 reads documents the way Pulumi reads a stack file, for the tests to compare with
// components/loader.py. It is built by tests/yaml_v3_oracle.py against Debian's golang-gopkg-yaml.v3-dev
// (gopkg.in/yaml.v3 v3.0.1, Debian package 3.0.1-3) in GOPATH mode, so no network is needed.
//
// Protocol: one request per line on stdin, "MODE BASE64", MODE being "yaml" (any YAML document) or "stack"
// (a stack file); one JSON line per request on stdout: {"ok":true,"value":...} or {"ok":false,"error":"..."}.
//
// What it does, each step after Pulumi's source:
//   - strips one leading UTF-8 byte-order mark (sdk/go/common/workspace/loaders.go, readFileStripUTF8BOM);
//   - yaml.Unmarshal into `any` (sdk/go/common/encoding/marshal.go);
//   - turns the value into what the program receives with unmarshalObject's rules
//     (sdk/go/common/resource/config/object.go): int becomes int64, a time.Time its String(), mapping keys
//     that are not strings their fmt "%v"; any other wire type fails (contract.Failf). uint64 (an integer
//     above int64) is in that "other" group in the Pulumi releases whose unmarshalObject has no uint64 case;
//   - in "stack" mode, decodes the document into Pulumi's ProjectStack shape (workspace/project.go: string
//     fields secretsprovider, encryptedkey, encryptionsalt; config a mapping) and parses every config key with
//     ParseKey (config/key.go: `<namespace>:<name>`, or the old `<namespace>:config:<name>`).
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

type reply struct {
	Ok    bool            `json:"ok"`
	Value json.RawMessage `json:"value,omitempty"`
	Error string          `json:"error,omitempty"`
}

type projectStack struct {
	SecretsProvider string         `yaml:"secretsprovider,omitempty"`
	EncryptedKey    string         `yaml:"encryptedkey,omitempty"`
	EncryptionSalt  string         `yaml:"encryptionsalt,omitempty"`
	Config          map[string]any `yaml:"config,omitempty"`
}

func object(v any) (any, error) {
	switch v := v.(type) {
	case bool, string, nil, int64:
		return v, nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("json: unsupported value: %v", v)
		}
		return v, nil
	case int:
		return int64(v), nil
	case time.Time:
		return v.String(), nil
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			c, err := object(x)
			if err != nil {
				return nil, err
			}
			m[k] = c
		}
		return m, nil
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[fmt.Sprintf("%v", k)] = x
		}
		return object(m)
	case []any:
		a := make([]any, len(v))
		for i, x := range v {
			c, err := object(x)
			if err != nil {
				return nil, err
			}
			a[i] = c
		}
		return a, nil
	default:
		return nil, fmt.Errorf("unexpected wire type %T", v)
	}
}

// parseKey follows config.ParseKey: one colon, or two with "config" between them.
func parseKey(s string) (string, error) {
	switch strings.Count(s, ":") {
	case 1:
		return s, nil
	case 2:
		parts := strings.Split(s, ":")
		if parts[1] == "config" && parts[0] != "" && parts[2] != "" {
			return parts[0] + ":" + parts[2], nil
		}
	}
	return "", fmt.Errorf("could not parse %s as a configuration key", s)
}

func stack(data []byte) error {
	var ps projectStack
	if err := yaml.Unmarshal(data, &ps); err != nil {
		return err
	}
	seen := map[string]string{}
	for key := range ps.Config {
		parsed, err := parseKey(key)
		if err != nil {
			return err
		}
		if other, ok := seen[parsed]; ok {
			return fmt.Errorf("config keys %q and %q are the same key %q", other, key, parsed)
		}
		seen[parsed] = key
	}
	return nil
}

func read(mode string, data []byte) (r reply) {
	defer func() {
		if p := recover(); p != nil {
			r = reply{Error: fmt.Sprintf("panic: %v", p)}
		}
	}()
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return reply{Error: err.Error()}
	}
	value, err := object(v)
	if err != nil {
		return reply{Error: err.Error()}
	}
	if mode == "stack" {
		if err := stack(data); err != nil {
			return reply{Error: err.Error()}
		}
	}
	encoded, err := json.Marshal(value)
	if err != nil {
		return reply{Error: err.Error()}
	}
	return reply{Ok: true, Value: encoded}
}

func main() {
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	encoder := json.NewEncoder(out)
	for {
		line, err := in.ReadString('\n')
		line = strings.TrimSpace(line)
		if line != "" {
			mode, payload, _ := strings.Cut(line, " ")
			data, decodeErr := base64.StdEncoding.DecodeString(payload)
			r := reply{Error: "bad request"}
			if decodeErr == nil {
				r = read(mode, data)
			}
			if encodeErr := encoder.Encode(r); encodeErr != nil {
				panic(encodeErr)
			}
			out.Flush()
		}
		if err != nil {
			return
		}
	}
}
