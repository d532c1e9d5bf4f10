// A deprecated operation says since when (x-deprecated-at) and until when (x-sunset), as RFC 3339
// UTC date-times with the sunset not before the deprecation; the service sends both as headers.
const dateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
module.exports = (operation) => {
  if (!operation || typeof operation !== 'object' || operation.deprecated !== true) return [];
  const since = operation['x-deprecated-at'];
  const until = operation['x-sunset'];
  if (typeof since !== 'string' || !dateTime.test(since) || typeof until !== 'string' || !dateTime.test(until)) {
    return [{ message: 'A deprecated operation needs x-deprecated-at and x-sunset as UTC date-times (2027-05-01T00:00:00Z).' }];
  }
  return Date.parse(until) < Date.parse(since) ? [{ message: 'x-sunset is earlier than x-deprecated-at.' }] : [];
};
