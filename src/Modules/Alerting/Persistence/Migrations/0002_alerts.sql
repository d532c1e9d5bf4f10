-- Alerts: raised by a rule (threshold) or by a fault reported on a device, acknowledged and
-- resolved through verbs or by themselves. At most one alert that is not resolved per rule and
-- device, and per device for its fault: a repeated breach or a redelivered event extends or
-- finds the open one, never adds a second.
ALTER TABLE alerting.rules ADD CONSTRAINT rules_id_tenant UNIQUE (id, tenant_id);

CREATE TABLE alerting.alerts (
    id              uuid        PRIMARY KEY,
    tenant_id       uuid        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('threshold', 'device_fault')),
    rule_id         uuid,
    device_id       uuid        NOT NULL,
    metric          text        CHECK (metric IN ('temperature_c', 'humidity_pct', 'soil_moisture_pct', 'co2_ppm', 'light_ppfd', 'battery_v')),
    severity        text        NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    summary         text        NOT NULL CHECK (length(summary) BETWEEN 1 AND 600),
    status          text        NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'ACKNOWLEDGED', 'RESOLVED')),
    opened_at       timestamptz NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_by uuid,
    resolved_at     timestamptz,
    resolved_by     text        CHECK (resolved_by IN ('member', 'fault_cleared')),
    version         integer     NOT NULL DEFAULT 1 CHECK (version > 0),
    FOREIGN KEY (rule_id, tenant_id) REFERENCES alerting.rules (id, tenant_id),
    CHECK ((kind = 'threshold') = (rule_id IS NOT NULL AND metric IS NOT NULL)),
    CHECK ((status = 'RESOLVED') = (resolved_at IS NOT NULL AND resolved_by IS NOT NULL)),
    CHECK (status = 'OPEN' OR status = 'RESOLVED' OR acknowledged_at IS NOT NULL)
);
CREATE UNIQUE INDEX alerts_one_open_per_rule ON alerting.alerts (rule_id, device_id) WHERE kind = 'threshold' AND status <> 'RESOLVED';
CREATE UNIQUE INDEX alerts_one_open_fault ON alerting.alerts (device_id) WHERE kind = 'device_fault' AND status <> 'RESOLVED';
-- Most recently opened first (ids are UUIDv7 made when the alert opens).
CREATE INDEX alerts_newest ON alerting.alerts (tenant_id, id DESC);

ALTER TABLE alerting.alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE alerting.alerts FORCE ROW LEVEL SECURITY;
CREATE POLICY scoped ON alerting.alerts USING (platform.row_visible(tenant_id)) WITH CHECK (platform.row_visible(tenant_id));

-- No DELETE: an alert's history is what MTTA and MTTR are computed from.
GRANT SELECT, INSERT, UPDATE ON alerting.alerts TO {{app_role}};
