package openapipb

import "fmt"

// The messages of openapi.v3 (gnostic-models' OpenAPIv3.proto): JSON
// member → field number.

func isV3ResponseCode(k string) bool {
	if len(k) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if !isDigit(k[i]) && k[i] != 'X' {
			return false
		}
	}
	return true
}

var (
	v3Document = &msgDesc{name: "Document", ext: 9}
	v3Info     = &msgDesc{name: "Info", ext: 7, fields: map[string]field{
		"title": str(1), "description": str(2), "termsOfService": str(3), "contact": msg(4, v3Contact),
		"license": msg(5, v3License), "version": str(6), "summary": str(8)}}
	v3Contact      = &msgDesc{name: "Contact", ext: 4, fields: map[string]field{"name": str(1), "url": str(2), "email": str(3)}}
	v3License      = &msgDesc{name: "License", ext: 3, fields: map[string]field{"name": str(1), "url": str(2)}}
	v3ExternalDocs = &msgDesc{name: "ExternalDocs", ext: 3, fields: map[string]field{"description": str(1), "url": str(2)}}
	v3Tag          = &msgDesc{name: "Tag", ext: 4, fields: map[string]field{"name": str(1), "description": str(2), "externalDocs": msg(3, v3ExternalDocs)}}
	v3Reference    = &msgDesc{name: "Reference", fields: map[string]field{"$ref": str(1), "summary": str(2), "description": str(3)}}
	v3Paths        = &msgDesc{name: "Paths", ext: 2}
	v3PathItem     = &msgDesc{name: "PathItem", ext: 14}
	v3Operation    = &msgDesc{name: "Operation", ext: 13}
	v3Parameter    = &msgDesc{name: "Parameter", ext: 14}
	v3RequestBody  = &msgDesc{name: "RequestBody", ext: 4}
	v3MediaType    = &msgDesc{name: "MediaType", ext: 5}
	v3Response     = &msgDesc{name: "Response", ext: 5}
	v3Responses    = &msgDesc{name: "Responses", ext: 3}
	v3Components   = &msgDesc{name: "Components", ext: 10}
	v3Schema       = &msgDesc{name: "Schema", ext: 36}
	v3Xml          = &msgDesc{name: "Xml", ext: 6, fields: map[string]field{
		"name": str(1), "namespace": str(2), "prefix": str(3), "attribute": boolean(4), "wrapped": boolean(5)}}
	v3Discriminator = &msgDesc{name: "Discriminator", ext: 3, fields: map[string]field{
		"propertyName": str(1), "mapping": msg(2, namedMap("Strings", str(0)))}}
	v3SecurityScheme = &msgDesc{name: "SecurityScheme", ext: 9, fields: map[string]field{
		"type": str(1), "description": str(2), "name": str(3), "in": str(4), "scheme": str(5),
		"bearerFormat": str(6), "openIdConnectUrl": str(8)}}
	v3SecurityRequirement = namedMap("SecurityRequirement", field{kind: fStringsMsg})
	v3MediaTypes          = namedMap("MediaTypes", msg(0, v3MediaType))

	v3SchemaOrReference    = orReference("SchemaOrReference", v3Schema)
	v3ParameterOrReference = orReference("ParameterOrReference", v3Parameter)
	v3RequestBodyOrRef     = orReference("RequestBodyOrReference", v3RequestBody)
	v3ResponseOrReference  = orReference("ResponseOrReference", v3Response)
	v3SecuritySchemeOrRef  = orReference("SecuritySchemeOrReference", v3SecurityScheme)
)

// orReference is a oneof {T 1; Reference 2}: an object with $ref is a
// Reference (T has no $ref member, so gnostic's T fails on it).
func orReference(name string, t *msgDesc) *msgDesc {
	return &msgDesc{name: name, choose: func(v *value) (field, error) {
		if hasRef(v) {
			return msg(2, v3Reference), nil
		}
		return msg(1, t), nil
	}}
}

func init() {
	v3Document.fields = map[string]field{
		"openapi": str(1), "info": msg(2, v3Info), "servers": {num: 3, kind: fMsgs, msg: unsupported("servers")},
		"paths": msg(4, v3Paths), "components": msg(5, v3Components), "security": msgs(6, v3SecurityRequirement),
		"tags": msgs(7, v3Tag), "externalDocs": msg(8, v3ExternalDocs),
	}
	v3Paths.patterns = []pattern{{isPath, msg(1, v3PathItem)}}
	v3PathItem.fields = map[string]field{
		"$ref": str(1), "summary": str(2), "description": str(3), "get": msg(4, v3Operation), "put": msg(5, v3Operation),
		"post": msg(6, v3Operation), "delete": msg(7, v3Operation), "options": msg(8, v3Operation),
		"head": msg(9, v3Operation), "patch": msg(10, v3Operation), "trace": msg(11, v3Operation),
		"servers": {num: 12, kind: fMsgs, msg: unsupported("servers")}, "parameters": msgs(13, v3ParameterOrReference),
	}
	v3Operation.fields = map[string]field{
		"tags": strs(1), "summary": str(2), "description": str(3), "externalDocs": msg(4, v3ExternalDocs),
		"operationId": str(5), "parameters": msgs(6, v3ParameterOrReference), "requestBody": msg(7, v3RequestBodyOrRef),
		"responses": msg(8, v3Responses), "callbacks": msg(9, unsupported("callbacks")), "deprecated": boolean(10),
		"security": msgs(11, v3SecurityRequirement), "servers": {num: 12, kind: fMsgs, msg: unsupported("servers")},
	}
	v3Parameter.fields = map[string]field{
		"name": str(1), "in": str(2), "description": str(3), "required": boolean(4), "deprecated": boolean(5),
		"allowEmptyValue": boolean(6), "style": str(7), "explode": boolean(8), "allowReserved": boolean(9),
		"schema": msg(10, v3SchemaOrReference), "example": anyf(11), "examples": msg(12, unsupported("examples")),
		"content": msg(13, v3MediaTypes),
	}
	v3RequestBody.fields = map[string]field{"description": str(1), "content": msg(2, v3MediaTypes), "required": boolean(3)}
	v3MediaType.fields = map[string]field{
		"schema": msg(1, v3SchemaOrReference), "example": anyf(2), "examples": msg(3, unsupported("examples")),
		"encoding": msg(4, unsupported("encoding")),
	}
	v3Responses.fields = map[string]field{"default": msg(1, v3ResponseOrReference)}
	v3Responses.patterns = []pattern{{isV3ResponseCode, msg(2, v3ResponseOrReference)}}
	v3Response.fields = map[string]field{
		"description": str(1), "headers": msg(2, unsupported("headers")), "content": msg(3, v3MediaTypes),
		"links": msg(4, unsupported("links")),
	}
	v3Components.fields = map[string]field{
		"schemas":         msg(1, namedMap("SchemasOrReferences", msg(0, v3SchemaOrReference))),
		"responses":       msg(2, namedMap("ResponsesOrReferences", msg(0, v3ResponseOrReference))),
		"parameters":      msg(3, namedMap("ParametersOrReferences", msg(0, v3ParameterOrReference))),
		"examples":        msg(4, unsupported("examples")),
		"requestBodies":   msg(5, namedMap("RequestBodiesOrReferences", msg(0, v3RequestBodyOrRef))),
		"headers":         msg(6, unsupported("headers")),
		"securitySchemes": msg(7, namedMap("SecuritySchemesOrReferences", msg(0, v3SecuritySchemeOrRef))),
		"links":           msg(8, unsupported("links")), "callbacks": msg(9, unsupported("callbacks")),
	}
	v3SecurityScheme.fields["flows"] = msg(7, unsupported("OAuth flows"))
	v3Schema.fields = map[string]field{
		"nullable": boolean(1), "discriminator": msg(2, v3Discriminator), "readOnly": boolean(3),
		"writeOnly": boolean(4), "xml": msg(5, v3Xml), "externalDocs": msg(6, v3ExternalDocs), "example": anyf(7),
		"deprecated": boolean(8), "title": str(9), "multipleOf": double(10), "maximum": double(11),
		"exclusiveMaximum": boolean(12), "minimum": double(13), "exclusiveMinimum": boolean(14),
		"maxLength": int64f(15), "minLength": int64f(16), "pattern": str(17), "maxItems": int64f(18),
		"minItems": int64f(19), "uniqueItems": boolean(20), "maxProperties": int64f(21), "minProperties": int64f(22),
		"required": strs(23), "enum": anys(24), "type": str(25), "allOf": msgs(26, v3SchemaOrReference),
		"oneOf": msgs(27, v3SchemaOrReference), "anyOf": msgs(28, v3SchemaOrReference), "not": msg(29, v3Schema),
		"items":                {num: 30, kind: fItems, msg: v3SchemaOrReference},
		"properties":           msg(31, namedMap("Properties", msg(0, v3SchemaOrReference))),
		"additionalProperties": {num: 32, kind: fAddProps, msg: v3SchemaOrReference},
		"default":              {num: 33, kind: fDefault}, "description": str(34), "format": str(35),
	}
}

// unsupported is a message this encoder does not write (nothing wasmpod
// serves has it): a document with it is an error naming it.
func unsupported(what string) *msgDesc {
	return &msgDesc{name: what, choose: func(*value) (field, error) {
		return field{}, fmt.Errorf("%s are not supported", what)
	}}
}
