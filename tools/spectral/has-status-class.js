// The responses object must document at least one status of the given class (4 or 5),
// as an exact code (404) or a range (4XX).
module.exports = (responses, options) => {
  const statusClass = String(options.class);
  const codes = responses && typeof responses === 'object' ? Object.keys(responses) : [];
  const pattern = new RegExp(`^${statusClass}(\\d\\d|XX)$`);
  return codes.some((c) => pattern.test(c))
    ? []
    : [{ message: `Operation documents no ${statusClass}XX response.` }];
};
