-- Telemetry's public contract for charts (Insights): the rollups of one metric of some devices,
-- merged per bucket, in a range of bucket starts. It runs as its caller, so row-level security
-- keeps it to the caller's tenant; it reads the rollups, never the raw readings.
CREATE FUNCTION telemetry.device_series(p_devices uuid[], p_metric text, p_width integer, p_from timestamptz, p_to timestamptz)
    RETURNS TABLE (bucket_start timestamptz, min double precision, max double precision, sum double precision, count bigint)
    LANGUAGE sql STABLE AS
$$
    SELECT r.bucket_start, min(r.min), max(r.max), sum(r.sum), sum(r.count)::bigint
      FROM telemetry.rollups r
      JOIN telemetry.metrics m ON m.code = r.metric
     WHERE m.name = p_metric AND r.device_id = ANY(p_devices) AND r.width = p_width
       AND r.bucket_start >= p_from AND r.bucket_start < p_to
     GROUP BY r.bucket_start
     ORDER BY r.bucket_start
$$;

REVOKE ALL ON FUNCTION telemetry.device_series(uuid[], text, integer, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION telemetry.device_series(uuid[], text, integer, timestamptz, timestamptz) TO {{app_role}};
