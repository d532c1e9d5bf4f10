-- Access tokens blocked before their expiry (sign-out, erasure), the record Redis's notes are
-- written from: when Redis cannot answer, a token is checked here and against its membership's
-- version (identity.memberships.version changes only when tokens of the old version must stop).
-- A row is useless once its token has expired; each block removes its tenant's expired rows.
CREATE TABLE identity.blocked_access_tokens (
    jti        text        NOT NULL,
    tenant_id  uuid        NOT NULL REFERENCES identity.tenants (id),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, jti)
);
CREATE INDEX blocked_access_tokens_expiry ON identity.blocked_access_tokens (tenant_id, expires_at);

ALTER TABLE identity.blocked_access_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity.blocked_access_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY scoped ON identity.blocked_access_tokens USING (platform.row_visible(tenant_id)) WITH CHECK (platform.row_visible(tenant_id));
GRANT SELECT, INSERT, DELETE ON identity.blocked_access_tokens TO {{app_role}};
