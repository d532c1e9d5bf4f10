-- A device decommissioned while in FAULT resolves its fault's alert: nobody will clear it.
ALTER TABLE alerting.alerts DROP CONSTRAINT alerts_resolved_by_check;
ALTER TABLE alerting.alerts ADD CONSTRAINT alerts_resolved_by_check CHECK (resolved_by IN ('member', 'fault_cleared', 'device_decommissioned'));
