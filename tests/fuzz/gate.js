// The fuzz gate, run by Newman after every request: no 5XX; every 4XX is a complete Canopy
// problem (application/problem+json, RFC 9457 members and Canopy's); every 2XX JSON body
// matches the response schema that tools/gates/fuzz.mjs attached to the request.
const code = pm.response.code;
pm.test('[gate] no 5XX answer', () => pm.expect(code, pm.response.text().slice(0, 300)).to.be.below(500));
if (code >= 400 && code < 500) {
  pm.test('[gate] a 4XX is a Canopy problem', () => {
    pm.expect(pm.response.headers.get('Content-Type') || '').to.match(/^application\/problem\+json/);
    const problem = pm.response.json();
    for (const member of ['type', 'title', 'detail', 'instance', 'human_readable_cause', 'suggested_action', 'trace_id']) {
      pm.expect(problem[member], member).to.be.a('string');
    }
    pm.expect(problem.status).to.equal(code);
    pm.expect(problem.type).to.match(/^https:\/\/canopy\.dev\/problems\/[a-z-]+$/);
  });
}
const schema = pm.variables.get('response_schema_' + code);
if (code >= 200 && code < 300 && schema && (pm.response.headers.get('Content-Type') || '').includes('json')) {
  const full = { $schema: 'http://json-schema.org/draft-07/schema#', ...JSON.parse(schema), definitions: JSON.parse(pm.collectionVariables.get('schema_definitions')) };
  pm.test('[gate] a 2XX body matches its response schema', () => pm.response.to.have.jsonSchema(full));
}
