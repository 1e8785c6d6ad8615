package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
)

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

func jsonValid(b []byte) bool { return json.Valid(b) }
