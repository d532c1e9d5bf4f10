// For each POST, PUT and PATCH of a path item, x-idempotency must match the Idempotency-Key
// header parameter (declared on the operation or on the path):
// required -> header declared and required; optional -> declared, not required; none -> absent.
module.exports = (pathItem) => {
  if (!pathItem || typeof pathItem !== 'object') return [];
  const problems = [];
  for (const method of ['post', 'put', 'patch']) {
    const operation = pathItem[method];
    if (!operation || typeof operation !== 'object') continue;
    const mode = operation['x-idempotency'];
    if (mode === undefined) continue;
    const parameters = [...(operation.parameters || []), ...(pathItem.parameters || [])];
    const header = parameters.find((p) => p && p.in === 'header' && String(p.name).toLowerCase() === 'idempotency-key');
    const path = [method];
    if (mode === 'none' && header) {
      problems.push({ message: `${method.toUpperCase()}: x-idempotency is none but an Idempotency-Key header is declared.`, path });
    } else if (mode !== 'none' && !header) {
      problems.push({ message: `${method.toUpperCase()}: x-idempotency is ${mode} but no Idempotency-Key header parameter is declared.`, path });
    } else if (mode === 'required' && header.required !== true) {
      problems.push({ message: `${method.toUpperCase()}: x-idempotency is required but the Idempotency-Key header is not required.`, path });
    } else if (mode === 'optional' && header && header.required === true) {
      problems.push({ message: `${method.toUpperCase()}: x-idempotency is optional but the Idempotency-Key header is required.`, path });
    }
  }
  return problems;
};
