-- Threshold alerts nothing would clear any more are resolved: by disabling their rule
-- (rule_disabled), or by moving the device out of the rule's scope (device_moved), which also
-- drops that pair's state row (MovedDevices).
ALTER TABLE alerting.alerts DROP CONSTRAINT alerts_resolved_by_check;
ALTER TABLE alerting.alerts ADD CONSTRAINT alerts_resolved_by_check
    CHECK (resolved_by IN ('member', 'fault_cleared', 'device_decommissioned', 'devices_online', 'condition_cleared', 'rule_disabled', 'device_moved'));
GRANT DELETE ON alerting.rule_states TO {{app_role}};
