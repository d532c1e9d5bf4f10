// x-roles and security must tell the same story: `public` operations declare `security: []`,
// and every other role (any signed-in user, or a minimum role) requires the bearer scheme.
module.exports = (operation) => {
  if (!operation || typeof operation !== 'object') return [];
  const roles = operation['x-roles'];
  if (roles === undefined) return [];
  const security = operation.security;
  const open = Array.isArray(security) && security.length === 0;
  if (roles === 'public' && !open) {
    return [{ message: 'x-roles is public but the operation does not declare security: [].' }];
  }
  if (roles !== 'public' && open) {
    return [{ message: `x-roles is ${roles} but the operation declares security: [] (no credentials).` }];
  }
  return [];
};
