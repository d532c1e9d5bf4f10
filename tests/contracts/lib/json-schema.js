// Converts OpenAPI 3.0 schemas to JSON Schema draft-07, so Dredd (which does not validate
// OAS 3 response bodies by itself) can check every response body against the spec.
'use strict';

const KNOWN_FORMATS = new Set(['date-time', 'date', 'time', 'email', 'hostname', 'ipv4', 'ipv6', 'uri', 'uri-reference', 'uuid', 'regex']);
const OPENAPI_ONLY = new Set(['nullable', 'example', 'examples', 'xml', 'externalDocs', 'deprecated', 'discriminator', 'readOnly', 'writeOnly']);

function convert(schema) {
  if (Array.isArray(schema)) return schema.map(convert);
  if (!schema || typeof schema !== 'object') return schema;
  if (schema.$ref) {
    const match = /^#\/components\/schemas\/(.+)$/.exec(schema.$ref);
    if (!match) throw new Error(`Unsupported reference ${schema.$ref}`);
    return { $ref: `#/definitions/${match[1]}` };
  }
  const out = {};
  for (const [key, value] of Object.entries(schema)) {
    if (OPENAPI_ONLY.has(key) || key.startsWith('x-')) continue;
    if (key === 'format' && !KNOWN_FORMATS.has(value)) continue;
    if (key === 'properties' || key === 'patternProperties') {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, child]) => [name, convert(child)]));
    } else if (['items', 'additionalProperties', 'not'].includes(key) && typeof value === 'object') {
      out[key] = convert(value);
    } else if (['allOf', 'anyOf', 'oneOf'].includes(key)) {
      out[key] = value.map(convert);
    } else {
      out[key] = value;
    }
  }
  if (schema.nullable === true) {
    if (out.type) out.type = [].concat(out.type, 'null');
    if (out.enum && !out.enum.includes(null)) out.enum = [...out.enum, null];
    if (!out.type && (out.allOf || out.$ref)) return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

/** A self-contained draft-07 schema for one response body schema of the spec. */
function toDraft07(schema, spec) {
  const definitions = Object.fromEntries(
    Object.entries((spec.components && spec.components.schemas) || {}).map(([name, s]) => [name, convert(s)]),
  );
  return { $schema: 'http://json-schema.org/draft-07/schema#', ...convert(schema), definitions };
}

module.exports = { toDraft07, convert };
