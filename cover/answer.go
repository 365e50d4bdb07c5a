package cover

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// ServiceError is an error answer of the service as a client of it reads
// it (backfill's --server mode, the contact sheet's): the code and message
// of the JSON body {"error":{"code","message"}} every error answer of the
// service carries. An answer without one (something in between answered,
// or not the service at all) has the code http_<status>, which is no Code
// of the service's, and a message naming the request, the status and the
// start of the body.
type ServiceError struct {
	// Code is the answer's code as it came: a newer service may send one
	// this build does not know.
	Code    Code
	Message string
}

func (e *ServiceError) Error() string { return string(e.Code) + ": " + e.Message }

// serviceErrorBody is how much of an answer without a code its message
// keeps.
const serviceErrorBody = 200

// ReadServiceError reads the error answer to op (the request, "GET
// /covers") with this status and body.
func ReadServiceError(op string, status int, body []byte) *ServiceError {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		return &ServiceError{Code(e.Error.Code), e.Error.Message}
	}
	text := strings.TrimSpace(string(body))
	if len(text) > serviceErrorBody {
		text = text[:serviceErrorBody] + "..."
	}
	return &ServiceError{Code("http_" + strconv.Itoa(status)), fmt.Sprintf("%s answered %d: %s", op, status, text)}
}
