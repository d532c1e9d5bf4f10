-- Alerting: the rules that watch the readings of a farm, a zone or a device. Every table carries
-- tenant_id under forced row-level security (platform.row_visible). The constraints are the
-- rule's law: a threshold exactly when the operator compares with one, names unique in the
-- organisation, states from the lifecycle only.
CREATE SCHEMA alerting;
GRANT USAGE ON SCHEMA alerting TO {{app_role}};

CREATE TABLE alerting.rules (
    id          uuid             PRIMARY KEY,
    tenant_id   uuid             NOT NULL,
    name        text             NOT NULL CHECK (length(name) BETWEEN 1 AND 120 AND name = btrim(name)),
    metric      text             NOT NULL CHECK (metric IN ('temperature_c', 'humidity_pct', 'soil_moisture_pct', 'co2_ppm', 'light_ppfd', 'battery_v')),
    operator    text             NOT NULL CHECK (operator IN ('gt', 'gte', 'lt', 'lte', 'outside_target')),
    threshold   double precision,
    for_seconds integer          NOT NULL CHECK (for_seconds BETWEEN 0 AND 86400),
    scope_kind  text             NOT NULL CHECK (scope_kind IN ('farm', 'zone', 'device')),
    scope_id    uuid             NOT NULL,
    severity    text             NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    status      text             NOT NULL DEFAULT 'ENABLED' CHECK (status IN ('ENABLED', 'DISABLED')),
    created_at  timestamptz      NOT NULL,
    updated_at  timestamptz      NOT NULL,
    created_by  uuid,
    version     integer          NOT NULL DEFAULT 1 CHECK (version > 0),
    CHECK ((operator = 'outside_target') = (threshold IS NULL))
);
CREATE UNIQUE INDEX rules_name ON alerting.rules (tenant_id, lower(name));
-- Newest first (ids are UUIDv7: their order is their creation order).
CREATE INDEX rules_newest ON alerting.rules (tenant_id, id DESC);
-- Evaluation finds the enabled rules watching a scope.
CREATE INDEX rules_enabled_scope ON alerting.rules (tenant_id, scope_kind, scope_id) WHERE status = 'ENABLED';

ALTER TABLE alerting.rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE alerting.rules FORCE ROW LEVEL SECURITY;
CREATE POLICY scoped ON alerting.rules USING (platform.row_visible(tenant_id)) WITH CHECK (platform.row_visible(tenant_id));

-- No DELETE: rules are disabled, and alerts will keep pointing at them.
GRANT SELECT, INSERT, UPDATE ON alerting.rules TO {{app_role}};
