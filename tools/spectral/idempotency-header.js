// An operation's x-idempotency value must match its Idempotency-Key header parameter:
// required -> header declared and required; optional -> header declared, not required;
// none -> no header.
module.exports = (operation) => {
  if (!operation || typeof operation !== 'object') return [];
  const mode = operation['x-idempotency'];
  if (mode === undefined) return [];
  const header = (operation.parameters || []).find(
    (p) => p && p.in === 'header' && String(p.name).toLowerCase() === 'idempotency-key',
  );
  if (mode === 'none') {
    return header ? [{ message: 'x-idempotency is none but an Idempotency-Key header is declared.' }] : [];
  }
  if (!header) {
    return [{ message: `x-idempotency is ${mode} but no Idempotency-Key header parameter is declared.` }];
  }
  if (mode === 'required' && header.required !== true) {
    return [{ message: 'x-idempotency is required but the Idempotency-Key header is not required.' }];
  }
  if (mode === 'optional' && header.required === true) {
    return [{ message: 'x-idempotency is optional but the Idempotency-Key header is required.' }];
  }
  return [];
};
