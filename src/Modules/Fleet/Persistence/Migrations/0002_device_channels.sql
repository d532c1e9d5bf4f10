-- What other modules may know of a device, through these functions and nothing else: the
-- ingestion and command channels of a device are opened by the modules that own them, which
-- never read or write Fleet's tables directly.

-- Before a device's tenant is known (a device trading its credential for a token), this answers
-- which tenant the device belongs to and whether the secret opens its channels. It crosses
-- tenants for one device id and one secret-derived hash, and answers nothing else.
CREATE FUNCTION fleet.device_credential_check(p_device uuid, p_secret_hash bytea)
    RETURNS TABLE (tenant_id uuid, outcome text)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = fleet, pg_temp AS
$$
DECLARE
    previous_scope text := current_setting('app.scope', true);
BEGIN
    PERFORM set_config('app.scope', 'platform', true);
    RETURN QUERY
        SELECT d.tenant_id,
               CASE WHEN d.status = 'DECOMMISSIONED' THEN 'decommissioned'
                    WHEN EXISTS (SELECT 1 FROM fleet.device_credentials c
                                  WHERE c.device_id = d.id AND c.secret_hash = p_secret_hash AND c.revoked_at IS NULL) THEN 'ok'
                    WHEN EXISTS (SELECT 1 FROM fleet.device_credentials c
                                  WHERE c.device_id = d.id AND c.secret_hash = p_secret_hash) THEN 'revoked_credential'
                    ELSE 'wrong_secret' END
          FROM fleet.devices d
         WHERE d.id = p_device;
    PERFORM set_config('app.scope', COALESCE(previous_scope, ''), true);
END
$$;

-- A device of the transaction's tenant as its channels need it (row-level security applies).
CREATE FUNCTION fleet.device_channel(p_device uuid)
    RETURNS TABLE (status text, metrics text[], zone_id uuid, last_seen_at timestamptz)
    LANGUAGE sql STABLE AS
$$
    SELECT status, metrics, zone_id, last_seen_at FROM fleet.devices WHERE id = p_device
$$;

-- The same, holding the device row until the caller's transaction ends: a verb that changes the
-- device (decommission) waits for the caller's writes, or the caller sees the verb's result.
CREATE FUNCTION fleet.lock_device_channel(p_device uuid)
    RETURNS TABLE (status text, metrics text[], zone_id uuid, last_seen_at timestamptz)
    LANGUAGE sql AS
$$
    SELECT status, metrics, zone_id, last_seen_at FROM fleet.devices WHERE id = p_device FOR SHARE
$$;

-- Whether a live zone of the transaction's tenant has this id.
CREATE FUNCTION fleet.zone_visible(p_zone uuid) RETURNS boolean
    LANGUAGE sql STABLE AS
$$
    SELECT EXISTS (SELECT 1 FROM fleet.zones WHERE id = p_zone AND NOT is_deleted)
$$;

REVOKE ALL ON FUNCTION fleet.device_credential_check(uuid, bytea), fleet.device_channel(uuid),
    fleet.lock_device_channel(uuid), fleet.zone_visible(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleet.device_credential_check(uuid, bytea), fleet.device_channel(uuid),
    fleet.lock_device_channel(uuid), fleet.zone_visible(uuid) TO {{app_role}};
