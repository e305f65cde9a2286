package openapipb

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// The messages of openapi.v2 (gnostic-models' OpenAPIv2.proto): JSON
// member → field number.

func isPath(k string) bool { return strings.HasPrefix(k, "/") }

func isV2ResponseCode(k string) bool {
	return k == "default" || len(k) == 3 && isDigit(k[0]) && isDigit(k[1]) && isDigit(k[2])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func num(n int) protowire.Number { return protowire.Number(n) }

func str(n int) field              { return field{num: num(n), kind: fString} }
func boolean(n int) field          { return field{num: num(n), kind: fBool} }
func int64f(n int) field           { return field{num: num(n), kind: fInt64} }
func double(n int) field           { return field{num: num(n), kind: fDouble} }
func strs(n int) field             { return field{num: num(n), kind: fStrings} }
func anyf(n int) field             { return field{num: num(n), kind: fAny} }
func anys(n int) field             { return field{num: num(n), kind: fAnys} }
func msg(n int, d *msgDesc) field  { return field{num: num(n), kind: fMsg, msg: d} }
func msgs(n int, d *msgDesc) field { return field{num: num(n), kind: fMsgs, msg: d} }

// namedMap is a message whose field 1 holds a Named* entry per member.
func namedMap(name string, value field) *msgDesc { return &msgDesc{name: name, named: &value} }

// hasRef reports whether an object has a $ref member.
func hasRef(v *value) bool { return v.kind == kObject && v.get("$ref") != nil }

var (
	v2Document = &msgDesc{name: "Document", ext: 16}
	v2Info     = &msgDesc{name: "Info", ext: 7, fields: map[string]field{
		"title": str(1), "version": str(2), "description": str(3), "termsOfService": str(4),
		"contact": msg(5, v2Contact), "license": msg(6, v2License)}}
	v2Contact      = &msgDesc{name: "Contact", ext: 4, fields: map[string]field{"name": str(1), "url": str(2), "email": str(3)}}
	v2License      = &msgDesc{name: "License", ext: 3, fields: map[string]field{"name": str(1), "url": str(2)}}
	v2ExternalDocs = &msgDesc{name: "ExternalDocs", ext: 3, fields: map[string]field{"description": str(1), "url": str(2)}}
	v2Tag          = &msgDesc{name: "Tag", ext: 4, fields: map[string]field{"name": str(1), "description": str(2), "externalDocs": msg(3, v2ExternalDocs)}}
	v2Paths        = &msgDesc{name: "Paths", ext: 1}
	v2PathItem     = &msgDesc{name: "PathItem", ext: 10}
	v2Operation    = &msgDesc{name: "Operation", ext: 13}
	v2Schema       = &msgDesc{name: "Schema", ext: 31}
	v2Xml          = &msgDesc{name: "Xml", ext: 6, fields: map[string]field{
		"name": str(1), "namespace": str(2), "prefix": str(3), "attribute": boolean(4), "wrapped": boolean(5)}}
	v2JsonReference = &msgDesc{name: "JsonReference", fields: map[string]field{"$ref": str(1), "description": str(2)}}
	v2BodyParameter = &msgDesc{name: "BodyParameter", ext: 6, fields: map[string]field{
		"description": str(1), "name": str(2), "in": str(3), "required": boolean(4), "schema": msg(5, v2Schema)}}
	v2PrimitivesItems = &msgDesc{name: "PrimitivesItems"}
	v2Header          = &msgDesc{name: "Header"}
	v2Response        = &msgDesc{name: "Response", ext: 5}
	v2Responses       = &msgDesc{name: "Responses", ext: 2}
	v2ApiKeySecurity  = &msgDesc{name: "ApiKeySecurity", ext: 5, fields: map[string]field{
		"type": str(1), "name": str(2), "in": str(3), "description": str(4)}}
	v2BasicAuthenticationSecurity = &msgDesc{name: "BasicAuthenticationSecurity", ext: 3, fields: map[string]field{
		"type": str(1), "description": str(2)}}
	v2SecurityRequirement = namedMap("SecurityRequirement", field{kind: fStringsMsg})

	// ParametersItem: a $ref is a JsonReference (2), anything else a Parameter (1).
	v2ParametersItem = &msgDesc{name: "ParametersItem", choose: func(v *value) (field, error) {
		if hasRef(v) {
			return msg(2, v2JsonReference), nil
		}
		return msg(1, v2Parameter), nil
	}}
	// Parameter: "in": "body" is a BodyParameter (1), the others a NonBodyParameter (2).
	v2Parameter = &msgDesc{name: "Parameter", choose: func(v *value) (field, error) {
		if in := v.get("in"); in != nil && in.kind == kString && in.str == "body" {
			return msg(1, v2BodyParameter), nil
		}
		return msg(2, v2NonBodyParameter), nil
	}}
	v2NonBodyParameter = &msgDesc{name: "NonBodyParameter"}
	v2ResponseValue    = &msgDesc{name: "ResponseValue", choose: func(v *value) (field, error) {
		if hasRef(v) {
			return msg(2, v2JsonReference), nil
		}
		return msg(1, v2Response), nil
	}}
	v2SchemaItem = &msgDesc{name: "SchemaItem", choose: func(v *value) (field, error) {
		if t := v.get("type"); t != nil && t.kind == kString && t.str == "file" {
			return field{}, fmt.Errorf("file schemas (type: file) are not supported")
		}
		return msg(1, v2Schema), nil
	}}
	v2SecurityDefinitionsItem = &msgDesc{name: "SecurityDefinitionsItem", choose: func(v *value) (field, error) {
		t := v.get("type")
		switch {
		case t != nil && t.str == "basic":
			return msg(1, v2BasicAuthenticationSecurity), nil
		case t != nil && t.str == "apiKey":
			return msg(2, v2ApiKeySecurity), nil
		}
		return field{}, fmt.Errorf("security definitions other than basic and apiKey are not supported")
	}}
)

// primitiveFields are the members of the primitive parameter and item
// kinds, numbered from first (the field of "type").
func primitiveFields(first int) map[string]field {
	names := []string{"type", "format", "items", "collectionFormat", "default", "maximum", "exclusiveMaximum",
		"minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
		"enum", "multipleOf"}
	fs := map[string]field{}
	for i, n := range names {
		f := first + i
		switch n {
		case "items":
			fs[n] = msg(f, v2PrimitivesItems)
		case "default":
			fs[n] = anyf(f)
		case "maximum", "minimum", "multipleOf":
			fs[n] = double(f)
		case "exclusiveMaximum", "exclusiveMinimum", "uniqueItems":
			fs[n] = boolean(f)
		case "maxLength", "minLength", "maxItems", "minItems":
			fs[n] = int64f(f)
		case "enum":
			fs[n] = anys(f)
		default:
			fs[n] = str(f)
		}
	}
	return fs
}

// subSchema is a non-body parameter kind: required, in, description and
// name, [allowEmptyValue,] then the primitive fields.
func subSchema(name string, allowEmpty bool) *msgDesc {
	first := 5
	if allowEmpty {
		first = 6
	}
	fs := primitiveFields(first)
	fs["required"], fs["in"], fs["description"], fs["name"] = boolean(1), str(2), str(3), str(4)
	if allowEmpty {
		fs["allowEmptyValue"] = boolean(5)
	}
	return &msgDesc{name: name, fields: fs, ext: num(first + 17)}
}

func init() {
	v2Document.fields = map[string]field{
		"swagger": str(1), "info": msg(2, v2Info), "host": str(3), "basePath": str(4),
		"schemes": strs(5), "consumes": strs(6), "produces": strs(7), "paths": msg(8, v2Paths),
		"definitions":         msg(9, namedMap("Definitions", msg(0, v2Schema))),
		"parameters":          msg(10, namedMap("ParameterDefinitions", msg(0, v2Parameter))),
		"responses":           msg(11, namedMap("ResponseDefinitions", msg(0, v2Response))),
		"security":            msgs(12, v2SecurityRequirement),
		"securityDefinitions": msg(13, namedMap("SecurityDefinitions", msg(0, v2SecurityDefinitionsItem))),
		"tags":                msgs(14, v2Tag), "externalDocs": msg(15, v2ExternalDocs),
	}
	v2Paths.patterns = []pattern{{isPath, msg(2, v2PathItem)}}
	v2PathItem.fields = map[string]field{
		"$ref": str(1), "get": msg(2, v2Operation), "put": msg(3, v2Operation), "post": msg(4, v2Operation),
		"delete": msg(5, v2Operation), "options": msg(6, v2Operation), "head": msg(7, v2Operation),
		"patch": msg(8, v2Operation), "parameters": msgs(9, v2ParametersItem),
	}
	v2Operation.fields = map[string]field{
		"tags": strs(1), "summary": str(2), "description": str(3), "externalDocs": msg(4, v2ExternalDocs),
		"operationId": str(5), "produces": strs(6), "consumes": strs(7), "parameters": msgs(8, v2ParametersItem),
		"responses": msg(9, v2Responses), "schemes": strs(10), "deprecated": boolean(11),
		"security": msgs(12, v2SecurityRequirement),
	}
	v2Responses.patterns = []pattern{{isV2ResponseCode, msg(1, v2ResponseValue)}}
	v2Response.fields = map[string]field{
		"description": str(1), "schema": msg(2, v2SchemaItem),
		"headers":  msg(3, namedMap("Headers", msg(0, v2Header))),
		"examples": msg(4, namedMap("Examples", anyf(0))),
	}
	v2Schema.fields = map[string]field{
		"$ref": str(1), "format": str(2), "title": str(3), "description": str(4), "default": anyf(5),
		"multipleOf": double(6), "maximum": double(7), "exclusiveMaximum": boolean(8), "minimum": double(9),
		"exclusiveMinimum": boolean(10), "maxLength": int64f(11), "minLength": int64f(12), "pattern": str(13),
		"maxItems": int64f(14), "minItems": int64f(15), "uniqueItems": boolean(16), "maxProperties": int64f(17),
		"minProperties": int64f(18), "required": strs(19), "enum": anys(20),
		"additionalProperties": {num: 21, kind: fAddProps, msg: v2Schema},
		"type":                 {num: 22, kind: fStringsMsg},
		"items":                {num: 23, kind: fItems, msg: v2Schema},
		"allOf":                msgs(24, v2Schema),
		"properties":           msg(25, namedMap("Properties", msg(0, v2Schema))),
		"discriminator":        str(26), "readOnly": boolean(27), "xml": msg(28, v2Xml),
		"externalDocs": msg(29, v2ExternalDocs), "example": anyf(30),
	}
	v2PrimitivesItems.fields, v2PrimitivesItems.ext = primitiveFields(1), 18
	v2Header.fields, v2Header.ext = primitiveFields(1), 19
	v2Header.fields["description"] = str(18)
	header, formData := subSchema("HeaderParameterSubSchema", false), subSchema("FormDataParameterSubSchema", true)
	query, path := subSchema("QueryParameterSubSchema", true), subSchema("PathParameterSubSchema", false)
	v2NonBodyParameter.choose = func(v *value) (field, error) {
		in := v.get("in")
		if in != nil && in.kind == kString {
			switch in.str {
			case "header":
				return msg(1, header), nil
			case "formData":
				return msg(2, formData), nil
			case "query":
				return msg(3, query), nil
			case "path":
				return msg(4, path), nil
			}
		}
		return field{}, fmt.Errorf(`parameter has no "in" of body, header, formData, query or path`)
	}
}
