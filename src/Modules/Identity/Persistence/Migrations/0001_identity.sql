-- Identity: organisations (tenants), users, memberships, refresh tokens, invitations and the
-- security log. Personal data (e-mail, display name) is stored only encrypted (AES-256-GCM,
-- prefixed by its key id); e-mails are found through a keyed blind index, never by plaintext.
CREATE SCHEMA identity;
GRANT USAGE ON SCHEMA identity TO {{app_role}};

CREATE FUNCTION identity.current_tenant() RETURNS uuid
    LANGUAGE sql STABLE AS
$$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

CREATE TABLE identity.tenants (
    id          uuid        PRIMARY KEY,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    created_by  uuid,
    version     integer     NOT NULL DEFAULT 1
);

-- One account per e-mail across Canopy: a person belongs to one organisation.
CREATE TABLE identity.users (
    id                  uuid        PRIMARY KEY,
    tenant_id           uuid        NOT NULL REFERENCES identity.tenants (id),
    email_index         bytea       UNIQUE,
    email_cipher        bytea,
    display_name_cipher bytea,
    password_hash       text,
    status              text        NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'ERASED')),
    failed_logins       integer     NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    first_failure_at    timestamptz,
    locked_until        timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    created_by          uuid,
    version             integer     NOT NULL DEFAULT 1,
    -- An erased user keeps only its id: no index, no ciphertext, no password.
    CHECK (status = 'ERASED' OR (email_index IS NOT NULL AND email_cipher IS NOT NULL AND password_hash IS NOT NULL))
);
CREATE INDEX users_tenant ON identity.users (tenant_id);

CREATE TABLE identity.memberships (
    id          uuid        PRIMARY KEY,
    tenant_id   uuid        NOT NULL REFERENCES identity.tenants (id),
    user_id     uuid        NOT NULL REFERENCES identity.users (id),
    role        text        NOT NULL CHECK (role IN ('owner', 'admin', 'operator', 'viewer')),
    joined_at   timestamptz NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    created_by  uuid,
    version     integer     NOT NULL DEFAULT 1,
    is_deleted  boolean     NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX memberships_one_live_per_user ON identity.memberships (user_id) WHERE NOT is_deleted;
CREATE INDEX memberships_tenant ON identity.memberships (tenant_id, id) WHERE NOT is_deleted;

-- Refresh tokens: only a SHA-256 of the token is stored. A family is one sign-in and its rotations.
CREATE TABLE identity.refresh_tokens (
    id               uuid        PRIMARY KEY,
    tenant_id        uuid        NOT NULL REFERENCES identity.tenants (id),
    user_id          uuid        NOT NULL REFERENCES identity.users (id),
    family_id        uuid        NOT NULL,
    token_hash       bytea       NOT NULL UNIQUE,
    fingerprint_hash bytea,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz,
    revoked_at       timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX refresh_tokens_family ON identity.refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON identity.refresh_tokens (user_id);

CREATE TABLE identity.invitations (
    id           uuid        PRIMARY KEY,
    tenant_id    uuid        NOT NULL REFERENCES identity.tenants (id),
    email_index  bytea       NOT NULL,
    email_cipher bytea       NOT NULL,
    role         text        NOT NULL CHECK (role IN ('owner', 'admin', 'operator', 'viewer')),
    token_hash   bytea       NOT NULL UNIQUE,
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz,
    accepted_by  uuid        REFERENCES identity.users (id),
    created_at   timestamptz NOT NULL,
    created_by   uuid        NOT NULL
);

-- The security log: append-only (no UPDATE or DELETE for the application), one hash chain per
-- tenant (tenant_id NULL: failures that match no account). Each entry's hash covers its content
-- and the previous entry's hash, so an edited or deleted row breaks the chain.
CREATE TABLE identity.security_events (
    seq         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          uuid        NOT NULL UNIQUE,
    tenant_id   uuid        REFERENCES identity.tenants (id),
    chain_seq   bigint      NOT NULL,
    kind        text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    actor_id    uuid,
    subject_id  uuid,
    detail      jsonb       NOT NULL DEFAULT '{}',
    prev_hash   bytea       NOT NULL,
    hash        bytea       NOT NULL
);
CREATE UNIQUE INDEX security_events_chain ON identity.security_events (COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000'), chain_seq);

-- Row-level security as on the platform's tables (platform.row_visible): a transaction sees its
-- own tenant's rows; only code that sets app.scope = 'platform' (the narrow functions below,
-- workers) sees across tenants.
ALTER TABLE identity.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity.tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY scoped ON identity.tenants USING (platform.row_visible(id)) WITH CHECK (platform.row_visible(id));

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'memberships', 'refresh_tokens', 'invitations'] LOOP
        EXECUTE format('ALTER TABLE identity.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE identity.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY scoped ON identity.%I USING (platform.row_visible(tenant_id)) WITH CHECK (platform.row_visible(tenant_id))', t);
    END LOOP;
END $$;

ALTER TABLE identity.security_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity.security_events FORCE ROW LEVEL SECURITY;
CREATE POLICY scoped ON identity.security_events USING (platform.row_visible(tenant_id)) WITH CHECK (platform.row_visible(tenant_id));

GRANT SELECT, INSERT, UPDATE ON identity.tenants, identity.users, identity.memberships,
    identity.refresh_tokens, identity.invitations TO {{app_role}};
-- Erasure deletes the invitations that carried the person's address.
GRANT DELETE ON identity.invitations TO {{app_role}};
-- Append-only: the application reads the log and appends through identity.append_security_event.
GRANT SELECT ON identity.security_events TO {{app_role}};
GRANT EXECUTE ON FUNCTION identity.current_tenant() TO {{app_role}};

-- What an entry's hash covers, besides the previous hash. Used to append and to verify.
CREATE FUNCTION identity.security_event_content(e identity.security_events) RETURNS bytea
    LANGUAGE sql IMMUTABLE AS
$$
    -- Every field keeps its position (NULL as the empty string), so no two entries that differ
    -- in which field is NULL share a content.
    SELECT convert_to(concat_ws('|', e.id, coalesce(e.tenant_id::text, ''), e.chain_seq, e.kind,
        to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        coalesce(e.actor_id::text, ''), coalesce(e.subject_id::text, ''), e.detail::text), 'UTF8')
$$;

-- Appends one entry to its tenant's chain (tenant NULL: the chain of failures that match no
-- account). A transaction-scoped advisory lock per chain orders concurrent appends.
CREATE FUNCTION identity.append_security_event(
    p_id uuid, p_tenant uuid, p_kind text, p_occurred_at timestamptz, p_actor uuid, p_subject uuid, p_detail jsonb)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = identity, pg_temp AS
$$
DECLARE
    previous_scope text := current_setting('app.scope', true);
    last identity.security_events;
    entry identity.security_events;
BEGIN
    IF p_tenant IS DISTINCT FROM identity.current_tenant() AND p_tenant IS NOT NULL THEN
        RAISE EXCEPTION 'security event for tenant % outside its transaction', p_tenant;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('identity.security_events'), hashtext(COALESCE(p_tenant::text, '-')));
    PERFORM set_config('app.scope', 'platform', true);
    -- The same expression as security_events_chain, so the head of the chain is one index probe.
    SELECT * INTO last FROM identity.security_events
        WHERE COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000') = COALESCE(p_tenant, '00000000-0000-0000-0000-000000000000')
        ORDER BY chain_seq DESC LIMIT 1;
    entry.id := p_id;
    entry.tenant_id := p_tenant;
    entry.chain_seq := COALESCE(last.chain_seq, 0) + 1;
    entry.kind := p_kind;
    entry.occurred_at := p_occurred_at;
    entry.actor_id := p_actor;
    entry.subject_id := p_subject;
    entry.detail := COALESCE(p_detail, '{}'::jsonb);
    entry.prev_hash := COALESCE(last.hash, '\x'::bytea);
    entry.hash := sha256(entry.prev_hash || identity.security_event_content(entry));
    INSERT INTO identity.security_events (id, tenant_id, chain_seq, kind, occurred_at, actor_id, subject_id, detail, prev_hash, hash)
        VALUES (entry.id, entry.tenant_id, entry.chain_seq, entry.kind, entry.occurred_at, entry.actor_id, entry.subject_id, entry.detail, entry.prev_hash, entry.hash);
    PERFORM set_config('app.scope', COALESCE(previous_scope, ''), true);
END
$$;

-- Before the caller's tenant is known (sign-in by e-mail, a refresh or an invitation token),
-- these answer only which tenant to bind the transaction to, for one secret-derived key.
CREATE FUNCTION identity.tenant_of(p_kind text, p_key bytea) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = identity, pg_temp AS
$$
DECLARE
    previous_scope text := current_setting('app.scope', true);
    found uuid;
BEGIN
    PERFORM set_config('app.scope', 'platform', true);
    IF p_kind = 'email' THEN
        SELECT tenant_id INTO found FROM identity.users WHERE email_index = p_key;
    ELSIF p_kind = 'refresh_token' THEN
        SELECT tenant_id INTO found FROM identity.refresh_tokens WHERE token_hash = p_key;
    ELSIF p_kind = 'invitation' THEN
        SELECT tenant_id INTO found FROM identity.invitations WHERE token_hash = p_key;
    ELSE
        RAISE EXCEPTION 'unknown lookup %', p_kind;
    END IF;
    PERFORM set_config('app.scope', COALESCE(previous_scope, ''), true);
    RETURN found;
END
$$;

REVOKE ALL ON FUNCTION identity.append_security_event(uuid, uuid, text, timestamptz, uuid, uuid, jsonb),
    identity.tenant_of(text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION identity.append_security_event(uuid, uuid, text, timestamptz, uuid, uuid, jsonb),
    identity.tenant_of(text, bytea), identity.security_event_content(identity.security_events) TO {{app_role}};
