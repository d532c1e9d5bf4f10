-- Streaming evaluation of the rules: what each (rule, device) pair has shown so far, so that a
-- condition held across batches is measured from its first breaching reading, and an alert
-- resolves by itself once its condition has cleared for the rule's for_seconds. Evaluations of
-- one pair take its row's lock: two workers handling the same readings raise one alert.
CREATE TABLE alerting.rule_states (
    rule_id         uuid        NOT NULL,
    device_id       uuid        NOT NULL,
    tenant_id       uuid        NOT NULL,
    -- The first reading of the current unbroken run of breaking readings, if the last broke the rule.
    breach_since    timestamptz,
    -- The first reading of the current unbroken run of readings within the rule, if the last was.
    clear_since     timestamptz,
    -- The newest reading evaluated: older ones, arriving late, no longer change the outcome.
    evaluated_until timestamptz,
    PRIMARY KEY (rule_id, device_id),
    FOREIGN KEY (rule_id, tenant_id) REFERENCES alerting.rules (id, tenant_id),
    CHECK (breach_since IS NULL OR clear_since IS NULL)
);

ALTER TABLE alerting.rule_states ENABLE ROW LEVEL SECURITY;
ALTER TABLE alerting.rule_states FORCE ROW LEVEL SECURITY;
CREATE POLICY scoped ON alerting.rule_states USING (platform.row_visible(tenant_id)) WITH CHECK (platform.row_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE ON alerting.rule_states TO {{app_role}};

-- A threshold alert is extended by every breaking reading while it is not resolved: the latest
-- breaking reading's time and value. It resolves by itself when its condition clears.
ALTER TABLE alerting.alerts ADD COLUMN last_breach_at timestamptz;
ALTER TABLE alerting.alerts ADD COLUMN last_value double precision;
ALTER TABLE alerting.alerts DROP CONSTRAINT alerts_resolved_by_check;
ALTER TABLE alerting.alerts ADD CONSTRAINT alerts_resolved_by_check
    CHECK (resolved_by IN ('member', 'fault_cleared', 'device_decommissioned', 'devices_online', 'condition_cleared'));
