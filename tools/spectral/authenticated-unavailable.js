// An operation that needs an access token documents 503: the token's revocation is checked in
// Redis, and without Redis the service refuses rather than admit a revoked token (ADR 0010).
module.exports = (operation) => {
  if (!operation || typeof operation !== 'object') return [];
  const security = operation.security;
  const authenticated = Array.isArray(security) && security.some((s) => s && Object.keys(s).length > 0);
  if (!authenticated) return [];
  return operation.responses && operation.responses['503']
    ? []
    : [{ message: `${operation.operationId || 'This operation'} needs an access token but does not document 503 (revocation cannot be checked without Redis).` }];
};
