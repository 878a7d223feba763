package proto

import (
	"encoding/json"
	"strconv"
)

type wireError struct {
	Type    Type   `json:"type"`
	Code    string `json:"code"`
	Text    string `json:"text"`
	Ref     string `json:"ref,omitempty"`
	RetryMS int64  `json:"retry_ms,omitempty"`
}

type wireClosed struct {
	Type Type   `json:"type"`
	Code string `json:"code"`
	Text string `json:"text"`
}

// ErrorMessage encodes an error message: code is one of the Code
// constants, text is shown to people, ref is the refused message's ref and
// retryMS (when not 0) when to try again.
func ErrorMessage(code, text, ref string, retryMS int64) []byte {
	b, err := json.Marshal(wireError{Type: Error, Code: code, Text: text, Ref: ref, RetryMS: retryMS})
	if err != nil {
		// Strings always encode; keep the message well-formed regardless.
		return []byte(`{"type":"error","code":"internal","text":"encoding failed"}`)
	}
	return b
}

// ClosedMessage encodes the closed message sent before the server closes a
// connection on purpose: reason is one of the Reason constants.
func ClosedMessage(reason, text string) []byte {
	b, err := json.Marshal(wireClosed{Type: Closed, Code: reason, Text: text})
	if err != nil {
		return []byte(`{"type":"closed","code":"shutdown","text":""}`)
	}
	return b
}

// AppendPong appends {"type":"pong","t":<t>,"s":<server ms>} to b without
// reflection: the answer to a ping goes out on the reader's goroutine.
func AppendPong(b []byte, t float64, serverMS int64) []byte {
	b = append(b, `{"type":"pong","t":`...)
	b = strconv.AppendFloat(b, t, 'f', -1, 64)
	b = append(b, `,"s":`...)
	b = strconv.AppendInt(b, serverMS, 10)
	return append(b, '}')
}
