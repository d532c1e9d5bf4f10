-- What Alerting needs of a device whose readings it evaluates, through this function only (row-
-- level security applies: the caller's tenant): its serial number for the alert's wording, its
-- farm and zone (the scopes a rule may watch) and its zone's target ranges. No row for a device
-- that is not in the tenant or is decommissioned.
CREATE FUNCTION fleet.device_watch(p_device uuid)
    RETURNS TABLE (serial_number text, farm_id uuid, zone_id uuid, targets jsonb)
    LANGUAGE sql STABLE AS
$$
    SELECT d.serial_number, d.farm_id, d.zone_id, z.targets
      FROM fleet.devices d
      JOIN fleet.zones z ON z.id = d.zone_id
     WHERE d.id = p_device AND d.status <> 'DECOMMISSIONED'
$$;

REVOKE ALL ON FUNCTION fleet.device_watch(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleet.device_watch(uuid) TO {{app_role}};
