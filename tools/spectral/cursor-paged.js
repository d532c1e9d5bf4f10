// A list operation (operationId starting with "list", or any operation that takes a cursor)
// takes the cursor and limit query parameters and answers 200 with the page envelope
// { data: [], next_cursor, has_more }.
module.exports = (operation) => {
  if (!operation || typeof operation !== 'object') return [];
  const query = (operation.parameters || []).filter((p) => p && p.in === 'query').map((p) => p.name);
  const named = typeof operation.operationId === 'string' && operation.operationId.startsWith('list');
  if (!named && !query.includes('cursor')) return [];
  const problems = [];
  for (const name of ['cursor', 'limit']) {
    if (!query.includes(name)) {
      problems.push({ message: `Paged operation ${operation.operationId} does not take the ${name} query parameter.` });
    }
  }
  const ok = operation.responses && operation.responses['200'];
  const schema = ok && ok.content && ok.content['application/json'] && ok.content['application/json'].schema;
  const props = collectProperties(schema);
  const envelope = props.data && props.data.type === 'array' && props.next_cursor && props.has_more;
  if (!envelope) {
    problems.push({
      message: `List operation ${operation.operationId} does not answer 200 application/json with { data: [], next_cursor, has_more }.`,
    });
  }
  return problems;
};

function collectProperties(schema) {
  if (!schema || typeof schema !== 'object') return {};
  const own = Object.assign({}, schema.properties || {});
  for (const part of schema.allOf || []) Object.assign(own, collectProperties(part));
  return own;
}
