-- Idempotency keys (ADR 0012). A row is claimed in the transaction of the operation's effect,
-- so a second effect under the same key is impossible even when Redis has forgotten the key;
-- the stored response is filled in once the operation has answered.
CREATE TABLE platform.idempotency_keys (
    scope_hash   bytea       PRIMARY KEY,
    tenant_id    uuid,
    operation    text        NOT NULL,
    fingerprint  bytea       NOT NULL,
    status       integer     CHECK (status BETWEEN 200 AND 499),
    headers      jsonb,
    body         bytea,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX idempotency_keys_expiry ON platform.idempotency_keys (expires_at);

ALTER TABLE platform.idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform.idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY scoped ON platform.idempotency_keys USING (platform.row_visible(tenant_id)) WITH CHECK (platform.row_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON platform.idempotency_keys TO {{app_role}};
