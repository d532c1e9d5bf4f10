-- A tenant-owned table shaped like every core table, to test the platform's data conventions
-- and row-level security without depending on a business module.
CREATE SCHEMA IF NOT EXISTS kernel_tests;
GRANT USAGE ON SCHEMA kernel_tests TO {{app_role}};

CREATE TABLE kernel_tests.sample_items (
    id          uuid        PRIMARY KEY,
    tenant_id   uuid        NOT NULL,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    created_by  uuid,
    is_deleted  boolean     NOT NULL DEFAULT false,
    version     integer     NOT NULL CHECK (version > 0)
);
CREATE UNIQUE INDEX sample_items_name_per_tenant ON kernel_tests.sample_items (tenant_id, name) WHERE NOT is_deleted;

ALTER TABLE kernel_tests.sample_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE kernel_tests.sample_items FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON kernel_tests.sample_items
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

GRANT SELECT, INSERT, UPDATE ON kernel_tests.sample_items TO {{app_role}};
