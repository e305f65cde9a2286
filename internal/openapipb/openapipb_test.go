package openapipb

import (
	"bytes"
	"strings"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
)

// The documents below use every member the encoder writes, with values
// that exercise the YAML rendering of the free-form ones (quoting, block
// scalars, nesting, null, floats) and the zero values proto3 leaves out.
// The served documents themselves are compared in the apiserver package
// (TestOpenAPIProtobufMatchesGnostic).

const v2Doc = `{
 "swagger": "2.0",
 "info": {"title": "T", "version": "1", "description": "d", "termsOfService": "tos",
  "contact": {"name": "n", "url": "u", "email": "e", "x-c": 1}, "license": {"name": "MIT", "url": "", "x-l": [1, 2]}, "x-info": {"a": null}},
 "host": "example.com", "basePath": "/b", "schemes": ["https"], "consumes": ["application/json"], "produces": ["a", "b"],
 "x-top": "true",
 "paths": {
  "x-paths": {"k": "multi\nline\n"},
  "/p/{name}": {
   "parameters": [
    {"$ref": "#/parameters/q"},
    {"name": "name", "in": "path", "required": true, "type": "string", "description": "the name", "x-p": 2.5}
   ],
   "get": {
    "tags": ["t1", "t2"], "summary": "s", "description": "d", "operationId": "getP", "deprecated": true,
    "externalDocs": {"url": "http://docs", "description": ""},
    "produces": ["application/json"], "consumes": ["application/yaml"], "schemes": ["http"],
    "security": [{"k": ["a", "b"]}, {}],
    "parameters": [
     {"name": "h", "in": "header", "type": "array", "items": {"type": "integer", "format": "int32", "items": {"type": "string"}, "collectionFormat": "csv", "enum": [1, 2], "default": 1, "maximum": 10, "minimum": -1.5, "exclusiveMaximum": true, "exclusiveMinimum": false, "maxLength": 3, "minLength": 0, "pattern": "^a", "maxItems": 4, "minItems": 1, "uniqueItems": true, "multipleOf": 0.5, "x-i": "y"}, "collectionFormat": "pipes"},
     {"name": "f", "in": "formData", "type": "file", "allowEmptyValue": true, "required": false},
     {"name": "q", "in": "query", "type": "boolean", "uniqueItems": true, "default": false, "enum": [true, "yes", "", "123", "a: b", null]},
     {"name": "body", "in": "body", "required": true, "description": "b", "schema": {"$ref": "#/definitions/D"}, "x-b": {}}
    ],
    "responses": {
     "200": {"description": "OK", "schema": {"type": "string"}, "headers": {"X-H": {"type": "integer", "description": "h", "x-h": 1}}, "examples": {"application/json": {"a": [1, "b"]}}, "x-r": "v"},
     "404": {"$ref": "#/responses/NotFound"},
     "default": {"description": "other"},
     "x-rs": 3
    },
    "x-kubernetes-action": "get",
    "x-kubernetes-group-version-kind": {"group": "", "kind": "Pod", "version": "v1"}
   },
   "put": {"responses": {"200": {"description": "OK"}}},
   "post": {"responses": {"201": {"description": "Created"}}},
   "delete": {"responses": {"200": {"description": "OK"}}},
   "options": {"responses": {"200": {"description": "OK"}}},
   "head": {"responses": {"200": {"description": "OK"}}},
   "patch": {"responses": {"200": {"description": "OK"}}},
   "x-pi": false
  },
  "/ref": {"$ref": "#/x"}
 },
 "definitions": {
  "D": {
   "description": "a D", "title": "D", "type": "object", "required": ["a", "b"], "discriminator": "a", "readOnly": true,
   "properties": {
    "a": {"type": "string", "default": "", "enum": ["x", "y"], "format": "byte", "pattern": "p", "maxLength": 9, "minLength": 1, "example": "ex"},
    "b": {"type": ["integer", "null"], "default": 0, "maximum": 1e3, "minimum": 0, "multipleOf": 2, "exclusiveMaximum": false},
    "c": {"type": "array", "items": {"$ref": "#/definitions/E"}, "maxItems": 2, "minItems": 0, "uniqueItems": false},
    "d": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 5, "minProperties": 1},
    "e": {"type": "object", "additionalProperties": false},
    "f": {"type": "object", "additionalProperties": true, "default": {}},
    "g": {"allOf": [{"$ref": "#/definitions/E"}, {}], "default": {"x": [1, {"y": "z"}]}},
    "h": {"xml": {"name": "n", "namespace": "ns", "prefix": "p", "attribute": true, "wrapped": false, "x-x": 1}, "externalDocs": {"url": "u"}},
    "i": {}
   },
   "x-kubernetes-group-version-kind": [{"group": "apps", "kind": "Deployment", "version": "v1"}],
   "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name", "protocol"],
   "x-kubernetes-unions": [{"discriminator": "type", "fields-to-discriminateBy": {"a": "A", "b": "B"}}],
   "x-kubernetes-patch-strategy": "merge,retainKeys",
   "x-s": "a string that is long enough to be folded by a YAML emitter, if the emitter folded plain scalars at eighty columns",
   "x-t": "  leading and trailing spaces  ",
   "x-u": "ünïcödé \u2028 \t tab",
   "x-v": 1.5e-7, "x-w": -0, "x-n": null, "x-e": [], "x-o": {}
  },
  "E": {"type": "string"}
 },
 "parameters": {
  "q": {"name": "q", "in": "query", "type": "string", "uniqueItems": true},
  "b": {"name": "b", "in": "body", "schema": {"type": "object"}}
 },
 "responses": {"NotFound": {"description": "not found", "schema": {"$ref": "#/definitions/E"}}},
 "security": [{"BearerToken": []}],
 "securityDefinitions": {
  "BearerToken": {"type": "apiKey", "name": "authorization", "in": "header", "description": "Bearer", "x-s": 1},
  "Basic": {"type": "basic", "description": "basic"}
 },
 "tags": [{"name": "t1", "description": "first", "externalDocs": {"url": "u"}, "x-t": 1}, {"name": "t2"}],
 "externalDocs": {"description": "docs", "url": "http://x", "x-d": "e"}
}`

const v3Doc = `{
 "openapi": "3.0.0",
 "info": {"title": "T", "version": "1", "description": "d", "termsOfService": "tos", "summary": "s",
  "contact": {"name": "n", "url": "u", "email": "e"}, "license": {"name": "MIT", "url": "u"}, "x-i": true},
 "x-top": [1, "two", {"three": 3}],
 "paths": {
  "/p/{name}": {
   "summary": "s", "description": "d",
   "parameters": [
    {"name": "name", "in": "path", "required": true, "schema": {"type": "string", "uniqueItems": true}, "description": "the name"},
    {"$ref": "#/components/parameters/q", "summary": "s", "description": "d"}
   ],
   "get": {
    "tags": ["t"], "summary": "s", "description": "d", "operationId": "getP", "deprecated": true,
    "externalDocs": {"url": "u"},
    "security": [{"BearerToken": []}],
    "parameters": [
     {"name": "q", "in": "query", "deprecated": true, "allowEmptyValue": true, "style": "form", "explode": true, "allowReserved": false, "example": "ex",
      "content": {"application/json": {"schema": {"type": "integer"}, "example": {"a": 1}}}, "x-p": 1}
    ],
    "requestBody": {"description": "b", "required": true, "content": {"*/*": {"schema": {"$ref": "#/components/schemas/D"}}, "application/yaml": {}}, "x-rb": 2},
    "responses": {
     "default": {"description": "other"},
     "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/D"}, "x-m": 1}}, "x-r": "r"},
     "4XX": {"$ref": "#/components/responses/NotFound"},
     "x-rs": {}
    },
    "x-kubernetes-action": "get",
    "x-kubernetes-group-version-kind": {"group": "", "kind": "Pod", "version": "v1"}
   },
   "put": {"requestBody": {"$ref": "#/components/requestBodies/B"}, "responses": {"200": {"description": "OK"}}},
   "post": {"responses": {"201": {"description": "Created"}}},
   "delete": {"responses": {"200": {"description": "OK"}}},
   "options": {"responses": {}}, "head": {"responses": {}}, "patch": {"responses": {}}, "trace": {"responses": {}},
   "x-pi": "yes"
  },
  "/ref": {"$ref": "#/x"},
  "x-paths": 1
 },
 "components": {
  "schemas": {
   "D": {
    "nullable": true, "readOnly": true, "writeOnly": false, "deprecated": true, "title": "D", "description": "a D", "type": "object", "format": "f",
    "discriminator": {"propertyName": "kind", "mapping": {"a": "#/A", "b": "#/B"}, "x-d": 1},
    "xml": {"name": "n", "wrapped": true}, "externalDocs": {"url": "u", "description": "d"}, "example": {"kind": "a"},
    "required": ["kind"], "enum": [{"kind": "a"}, "", "off"], "maxProperties": 2, "minProperties": 1,
    "properties": {
     "kind": {"type": "string", "default": "a", "pattern": "^[ab]$", "maxLength": 1, "minLength": 1},
     "n": {"type": "number", "default": 1.5, "maximum": 2, "minimum": -2.25, "exclusiveMaximum": true, "exclusiveMinimum": true, "multipleOf": 0.25},
     "i": {"type": "integer", "default": 0, "format": "int64"},
     "z": {"type": "integer", "default": 7},
     "b": {"type": "boolean", "default": false},
     "t": {"type": "boolean", "default": true},
     "o": {"type": "object", "default": {}, "additionalProperties": {"$ref": "#/components/schemas/E"}},
     "o2": {"type": "object", "additionalProperties": {"type": "string", "default": ""}},
     "o3": {"additionalProperties": false, "default": null},
     "o4": {"additionalProperties": true, "default": [1]},
     "a": {"type": "array", "items": {"type": "string"}, "maxItems": 3, "minItems": 0, "uniqueItems": true},
     "r": {"allOf": [{"$ref": "#/components/schemas/E"}], "oneOf": [{"$ref": "#/components/schemas/E"}, {"type": "string"}], "anyOf": [{}], "not": {"type": "null"}},
     "e": {}
    },
    "x-kubernetes-group-version-kind": [{"group": "", "kind": "Pod", "version": "v1"}],
    "x-kubernetes-validations": [{"rule": "self.kind == 'a' || self.n > 0", "message": "it: \"quoted\""}]
   },
   "E": {"type": "string", "enum": ["A", "B", "true", "null", "~", "1.0", "0x1", "-", "#c"]}
  },
  "responses": {"NotFound": {"description": "not found"}, "R": {"$ref": "#/components/responses/NotFound"}},
  "parameters": {"q": {"name": "q", "in": "query", "schema": {"type": "string"}}},
  "requestBodies": {"B": {"content": {"application/json": {"schema": {"type": "object"}}}}},
  "securitySchemes": {
   "BearerToken": {"type": "apiKey", "name": "authorization", "in": "header", "description": "Bearer", "x-s": 1},
   "H": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "openIdConnectUrl": "u"},
   "R": {"$ref": "#/components/securitySchemes/H"}
  },
  "x-c": "c"
 },
 "security": [{"BearerToken": [], "H": ["a"]}],
 "tags": [{"name": "t", "description": "d", "externalDocs": {"url": "u"}, "x-t": 1}],
 "externalDocs": {"url": "u", "description": "d", "x-e": 1}
}`

// sameAsGnostic checks our bytes against gnostic's reading of the same
// JSON: they decode to an equal message, and they are the bytes
// proto.Marshal makes of gnostic's.
func sameAsGnostic(t *testing.T, name string, got []byte, want, decoded proto.Message) {
	t.Helper()
	if err := proto.Unmarshal(got, decoded); err != nil {
		t.Fatalf("%s: our bytes do not decode: %v", name, err)
	}
	if !proto.Equal(want, decoded) {
		t.Errorf("%s: our document differs from gnostic's", name)
	}
	wb, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wb, got) {
		t.Errorf("%s: our %d bytes differ from gnostic's %d", name, len(got), len(wb))
	}
}

func TestV2SameAsGnostic(t *testing.T) {
	want, err := openapi_v2.ParseDocument([]byte(v2Doc))
	if err != nil {
		t.Fatalf("gnostic: %v", err)
	}
	got, err := V2([]byte(v2Doc))
	if err != nil {
		t.Fatal(err)
	}
	sameAsGnostic(t, "v2", got, want, &openapi_v2.Document{})
}

func TestV3SameAsGnostic(t *testing.T) {
	want, err := openapi_v3.ParseDocument([]byte(v3Doc))
	if err != nil {
		t.Fatalf("gnostic: %v", err)
	}
	got, err := V3([]byte(v3Doc))
	if err != nil {
		t.Fatal(err)
	}
	sameAsGnostic(t, "v3", got, want, &openapi_v3.Document{})
}

// The comparison sees a one-value change: the document with one default
// changed does not pass as the original.
func TestComparisonSeesAChange(t *testing.T) {
	want, err := openapi_v3.ParseDocument([]byte(v3Doc))
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(v3Doc, `"default": 7`, `"default": 8`, 1)
	got, err := V3([]byte(changed))
	if err != nil {
		t.Fatal(err)
	}
	var dec openapi_v3.Document
	if err := proto.Unmarshal(got, &dec); err != nil {
		t.Fatal(err)
	}
	if proto.Equal(want, &dec) {
		t.Error("a changed default compares equal")
	}
}

// Bad documents are errors that name the member, never a panic.
func TestBadInput(t *testing.T) {
	for _, c := range []struct {
		v3        bool
		doc, want string
	}{
		{false, ``, "unexpected end of input"},
		{false, `{"swagger": "2.0"`, "expected ',' or '}'"},
		{false, `{"swagger": "2.0"} x`, "unexpected data after the document"},
		{false, `[]`, "Document is an array, not an object"},
		{false, `{"swagger": 2.5}`, `swagger: is a number, not a string`},
		{false, `{"nope": 1}`, `Document has no field "nope"`},
		{false, `{"paths": {"/a": {"get": {"responses": {"200": {"description": true}}}}}}`, `paths: ~1a: get: responses: 200: description: is a boolean, not a string`},
		{false, `{"definitions": {"D": {"maxLength": 1.5}}}`, `definitions: D: maxLength: is 1.5, not an integer`},
		{false, `{"definitions": {"D": {"items": []}}}`, `definitions: D: items: is an array, not an object`},
		{false, `{"paths": {"/a": {"parameters": [{"name": "x", "in": "cookie"}]}}}`, `parameters: 0: parameter has no "in"`},
		{false, `{"securityDefinitions": {"o": {"type": "oauth2", "flow": "implicit"}}}`, `securityDefinitions: o: security definitions other than basic and apiKey`},
		{true, `{"servers": [{"url": "u"}]}`, `servers: 0: servers are not supported`},
		{true, `{"components": {"schemas": {"S": {"properties": {"a": {"type": ["string"]}}}}}}`, `components: schemas: S: properties: a: type: is an array, not a string`},
		{true, `{"info": {"title": "\ud800x\u00"}}`, `invalid string`},
		{true, `{"info": {"title": "a` + "\x01" + `"}}`, `control character`},
		{true, `{"x-a": tru}`, `invalid literal`},
		{true, `{"x-a": 1.2.3}`, `invalid number`},
		{true, strings.Repeat("[", 2000), `nested too deeply`},
	} {
		f := V2
		if c.v3 {
			f = V3
		}
		_, err := f([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.60q: error %v, want %q", c.doc, err, c.want)
		}
	}
	// Every prefix of a document is an error, not a panic.
	for i := 0; i < len(v2Doc); i++ {
		if _, err := V2([]byte(v2Doc[:i])); err == nil {
			t.Fatalf("prefix of %d bytes: no error", i)
		}
	}
}
