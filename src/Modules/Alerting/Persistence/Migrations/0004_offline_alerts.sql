-- Devices of a zone that stop reporting raise one alert for the zone, however many go silent
-- (a gateway losing power takes its whole zone offline in one sweep): the alert keeps the
-- silent devices and resolves when the last of them reports again.
ALTER TABLE alerting.alerts ADD COLUMN zone_id uuid;
ALTER TABLE alerting.alerts ADD COLUMN offline_devices uuid[];
ALTER TABLE alerting.alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE alerting.alerts ADD CONSTRAINT alerts_kind_check CHECK (kind IN ('threshold', 'device_fault', 'offline'));
ALTER TABLE alerting.alerts ADD CONSTRAINT alerts_offline_zone CHECK ((kind = 'offline') = (offline_devices IS NOT NULL) AND (kind <> 'offline' OR zone_id IS NOT NULL));
ALTER TABLE alerting.alerts DROP CONSTRAINT alerts_resolved_by_check;
ALTER TABLE alerting.alerts ADD CONSTRAINT alerts_resolved_by_check
    CHECK (resolved_by IN ('member', 'fault_cleared', 'device_decommissioned', 'devices_online'));
CREATE UNIQUE INDEX alerts_one_open_offline ON alerting.alerts (zone_id) WHERE kind = 'offline' AND status <> 'RESOLVED';
-- A device's open offline alert, found when it reports again.
CREATE INDEX alerts_open_offline_devices ON alerting.alerts USING gin (offline_devices) WHERE kind = 'offline' AND status <> 'RESOLVED';
