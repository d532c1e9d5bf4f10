-- What Alerting may know of a farm, zone or device it watches, through this function only (row-
-- level security applies: the caller's tenant): whether the scope is live, the metrics its
-- devices that are not decommissioned report, and the target ranges of its zone (a zone, or a
-- device's zone; none for a farm, whose zones differ).
CREATE FUNCTION fleet.alert_scope(p_kind text, p_id uuid)
    RETURNS TABLE (live boolean, metrics text[], targets jsonb)
    LANGUAGE sql STABLE AS
$$
    SELECT CASE p_kind
             WHEN 'farm' THEN EXISTS (SELECT 1 FROM fleet.farms WHERE id = p_id AND NOT is_deleted)
             WHEN 'zone' THEN EXISTS (SELECT 1 FROM fleet.zones WHERE id = p_id AND NOT is_deleted)
             WHEN 'device' THEN EXISTS (SELECT 1 FROM fleet.devices WHERE id = p_id AND status <> 'DECOMMISSIONED')
             ELSE false
           END,
           ARRAY(SELECT DISTINCT m
                   FROM fleet.devices d CROSS JOIN LATERAL unnest(d.metrics) AS m
                  WHERE d.status <> 'DECOMMISSIONED'
                    AND CASE p_kind WHEN 'farm' THEN d.farm_id = p_id WHEN 'zone' THEN d.zone_id = p_id WHEN 'device' THEN d.id = p_id ELSE false END
                  ORDER BY m),
           CASE p_kind
             WHEN 'zone' THEN (SELECT z.targets FROM fleet.zones z WHERE z.id = p_id AND NOT z.is_deleted)
             WHEN 'device' THEN (SELECT z.targets FROM fleet.devices d JOIN fleet.zones z ON z.id = d.zone_id WHERE d.id = p_id)
           END
$$;

REVOKE ALL ON FUNCTION fleet.alert_scope(text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleet.alert_scope(text, uuid) TO {{app_role}};
