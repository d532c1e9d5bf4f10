// Every object schema in a request body (top level and nested) must say
// additionalProperties: false, so unknown members are refused instead of silently dropped;
// allOf is refused there, since closed parts cannot be combined.
module.exports = (schema) => {
  const problems = [];
  walk(schema, [], problems, new Set());
  return problems;
};

function walk(schema, path, problems, seen) {
  if (!schema || typeof schema !== 'object' || seen.has(schema)) return;
  seen.add(schema);
  const isObject = schema.type === 'object' || schema.properties !== undefined;
  if (isObject && schema.additionalProperties !== false) {
    problems.push({ message: 'Request body object does not declare additionalProperties: false.', path });
  }
  for (const [name, child] of Object.entries(schema.properties || {})) {
    walk(child, [...path, 'properties', name], problems, seen);
  }
  if (schema.items) walk(schema.items, [...path, 'items'], problems, seen);
  if (schema.allOf) {
    // Each closed part would refuse the other parts' members: a request body is one closed object.
    problems.push({ message: 'Request body uses allOf; declare one object with additionalProperties: false instead.', path: [...path, 'allOf'] });
  }
}
