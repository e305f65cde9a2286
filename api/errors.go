package api

import (
	"errors"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Error is one problem with one manifest, located as precisely as known.
// Its message reads "source: document N, item M (Kind/name): field: detail",
// leaving out the parts that are unknown.
type Error struct {
	Source string // the file name, or whatever the caller named the stream
	Index  int    // 0-based position of the document in the stream; -1 if not about one document
	Item   int    // 0-based position within a List document; -1 if the document is not a List
	Line   int    // 1-based line in the source where the document starts; 0 if unknown
	Kind   string // the object's kind, when known
	Name   string // the object's metadata.name, when known
	Field  string // the path of the field to blame, e.g. "spec.containers[0].image"; "" if none
	Detail string // what is wrong, e.g. "Required value"
	Err    error  // the underlying cause, if any (e.g. a file system error)
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Error implements error.
func (e *Error) Error() string {
	var parts []string
	if e.Source != "" {
		parts = append(parts, e.Source)
	}
	if e.Index >= 0 {
		loc := "document " + strconv.Itoa(e.Index+1)
		if e.Item >= 0 {
			loc += ", item " + strconv.Itoa(e.Item+1)
		}
		if e.Kind != "" {
			if e.Name != "" {
				loc += " (" + e.Kind + "/" + e.Name + ")"
			} else {
				loc += " (" + e.Kind + ")"
			}
		}
		parts = append(parts, loc)
	}
	if e.Field != "" {
		parts = append(parts, e.Field)
	}
	parts = append(parts, e.Detail)
	return strings.Join(parts, ": ")
}

// ErrorList is several Errors; its message has one line per Error.
type ErrorList []*Error

// Error implements error.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives errors.Is and errors.As access to each Error.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// orNil returns the list as an error, or a true nil when it is empty.
func (l ErrorList) orNil() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// fromField converts a validation error, located in doc, into an *Error.
func fromField(doc *Document, kind, name string, fe *field.Error) *Error {
	return &Error{
		Source: doc.Source, Index: doc.Index, Item: doc.Item, Line: doc.Line,
		Kind: kind, Name: name,
		Field: fe.Field, Detail: fe.ErrorBody(),
	}
}

// Errors flattens err into the *Error values it holds (nil if none).
func Errors(err error) []*Error {
	var l ErrorList
	if errors.As(err, &l) {
		return l
	}
	var e *Error
	if errors.As(err, &e) {
		return []*Error{e}
	}
	return nil
}
