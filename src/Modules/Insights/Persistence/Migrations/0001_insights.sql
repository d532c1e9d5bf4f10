-- Insights: read models for dashboards and reports, kept by a subscriber from Fleet's, Telemetry's
-- and Alerting's events, never read from their tables. Each row carries tenant_id under forced
-- row-level security; rows that follow an aggregate keep its version, so a redelivered or late
-- event never moves them back.
CREATE SCHEMA insights;
GRANT USAGE ON SCHEMA insights TO {{app_role}};

CREATE TABLE insights.farms (
    farm_id   uuid    PRIMARY KEY,
    tenant_id uuid    NOT NULL,
    name      text    NOT NULL,
    archived  boolean NOT NULL DEFAULT false,
    version   integer NOT NULL
);

CREATE TABLE insights.zones (
    zone_id   uuid    PRIMARY KEY,
    tenant_id uuid    NOT NULL,
    farm_id   uuid    NOT NULL,
    name      text    NOT NULL,
    archived  boolean NOT NULL DEFAULT false,
    version   integer NOT NULL
);

CREATE TABLE insights.devices (
    device_id    uuid        PRIMARY KEY,
    tenant_id    uuid        NOT NULL,
    farm_id      uuid        NOT NULL,
    zone_id      uuid        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('PROVISIONED', 'ACTIVE', 'OFFLINE', 'FAULT', 'DECOMMISSIONED')),
    -- An open battery_low fault.
    battery_low  boolean     NOT NULL DEFAULT false,
    last_seen_at timestamptz,
    version      integer     NOT NULL
);
CREATE INDEX devices_farm ON insights.devices (tenant_id, farm_id);
CREATE INDEX devices_zone ON insights.devices (zone_id);

-- Every fault reported, in the zone the device was in then: what zones are ranked by.
CREATE TABLE insights.faults (
    event_id    uuid        PRIMARY KEY,
    tenant_id   uuid        NOT NULL,
    device_id   uuid        NOT NULL,
    zone_id     uuid        NOT NULL,
    code        text        NOT NULL,
    reported_at timestamptz NOT NULL
);
CREATE INDEX faults_recent ON insights.faults (tenant_id, reported_at);

-- Alerts as their events tell them: when each was opened, acknowledged and resolved (MTTA, MTTR).
CREATE TABLE insights.alerts (
    alert_id        uuid        PRIMARY KEY,
    tenant_id       uuid        NOT NULL,
    severity        text        NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    status          text        NOT NULL CHECK (status IN ('OPEN', 'ACKNOWLEDGED', 'RESOLVED')),
    opened_at       timestamptz NOT NULL,
    acknowledged_at timestamptz,
    resolved_at     timestamptz,
    version         integer     NOT NULL
);
CREATE INDEX alerts_unresolved ON insights.alerts (tenant_id) WHERE status <> 'RESOLVED';
CREATE INDEX alerts_opened ON insights.alerts (tenant_id, opened_at);
CREATE INDEX alerts_acknowledged ON insights.alerts (tenant_id, acknowledged_at) WHERE acknowledged_at IS NOT NULL;
CREATE INDEX alerts_resolved ON insights.alerts (tenant_id, resolved_at) WHERE resolved_at IS NOT NULL;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['farms', 'zones', 'devices', 'faults', 'alerts'] LOOP
        EXECUTE format('ALTER TABLE insights.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE insights.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY scoped ON insights.%I USING (platform.row_visible(tenant_id)) WITH CHECK (platform.row_visible(tenant_id))', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE ON insights.%I TO {{app_role}}', t);
    END LOOP;
END $$;
