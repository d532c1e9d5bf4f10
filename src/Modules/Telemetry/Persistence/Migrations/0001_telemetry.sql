-- Telemetry: readings apart from the OLTP tables, partitioned by month, and their rollups.
CREATE SCHEMA telemetry;
GRANT USAGE ON SCHEMA telemetry TO {{app_role}};

-- The metrics as stored (a smallint per reading instead of a name); the names are the spec's.
CREATE TABLE telemetry.metrics (
    code smallint PRIMARY KEY,
    name text     NOT NULL UNIQUE
);
INSERT INTO telemetry.metrics (code, name) VALUES
    (1, 'temperature_c'), (2, 'humidity_pct'), (3, 'soil_moisture_pct'), (4, 'co2_ppm'), (5, 'light_ppfd'), (6, 'battery_v');

-- One row per (device, metric, recorded_at): the primary key is the index range queries use
-- and the conflict target that makes a repeated reading a no-op. Partitions by month on
-- recorded_at are created ahead and dropped whole by the retention job (ensure_partitions,
-- drop_partitions_before); a reading outside every partition is refused, never lost silently.
CREATE TABLE telemetry.readings (
    tenant_id   uuid             NOT NULL,
    device_id   uuid             NOT NULL,
    metric      smallint         NOT NULL REFERENCES telemetry.metrics (code),
    recorded_at timestamptz      NOT NULL,
    value       double precision NOT NULL,
    PRIMARY KEY (device_id, metric, recorded_at)
) PARTITION BY RANGE (recorded_at);

-- Aggregates per 5 minutes (300), hour (3600) and UTC day (86400). sum and count make the
-- average of a wider bucket exact; last_at says which reading "last" is.
CREATE TABLE telemetry.rollups (
    tenant_id    uuid             NOT NULL,
    device_id    uuid             NOT NULL,
    metric       smallint         NOT NULL REFERENCES telemetry.metrics (code),
    width        integer          NOT NULL CHECK (width IN (300, 3600, 86400)),
    bucket_start timestamptz      NOT NULL,
    min          double precision NOT NULL,
    max          double precision NOT NULL,
    sum          double precision NOT NULL,
    count        integer          NOT NULL CHECK (count > 0),
    last         double precision NOT NULL,
    last_at      timestamptz      NOT NULL,
    CHECK (min <= max),
    PRIMARY KEY (device_id, metric, width, bucket_start)
);

-- The 5-minute buckets that received readings since the rollup worker last took them: what it
-- recomputes (and the hour and day around them), never rescanning history. Written in the
-- ingesting transaction; a bucket the worker is recomputing right now is queued again.
CREATE TABLE telemetry.rollup_backlog (
    tenant_id    uuid        NOT NULL,
    device_id    uuid        NOT NULL,
    metric       smallint    NOT NULL,
    bucket_start timestamptz NOT NULL,
    PRIMARY KEY (device_id, metric, bucket_start)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['readings', 'rollups', 'rollup_backlog'] LOOP
        EXECUTE format('ALTER TABLE telemetry.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE telemetry.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY scoped ON telemetry.%I USING (platform.row_visible(tenant_id)) WITH CHECK (platform.row_visible(tenant_id))', t);
    END LOOP;
END $$;

-- Readings are never updated nor deleted one by one: partitions go whole.
GRANT SELECT, INSERT ON telemetry.readings TO {{app_role}};
GRANT SELECT, INSERT, UPDATE, DELETE ON telemetry.rollups, telemetry.rollup_backlog TO {{app_role}};
GRANT SELECT ON telemetry.metrics TO {{app_role}};

-- The monthly partitions covering [p_from, p_to], created when missing; answers how many were created.
CREATE FUNCTION telemetry.ensure_partitions(p_from timestamptz, p_to timestamptz) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = telemetry, pg_temp AS
$$
DECLARE
    month date := date_trunc('month', p_from AT TIME ZONE 'UTC')::date;
    created integer := 0;
    name text;
BEGIN
    IF p_to < p_from OR p_to - p_from > interval '1000 days' THEN
        RAISE EXCEPTION 'ensure_partitions: % to % is not a sensible range', p_from, p_to;
    END IF;
    -- Two workers creating the same month would collide; one at a time.
    PERFORM pg_advisory_xact_lock(hashtext('telemetry.partitions'));
    WHILE month <= (p_to AT TIME ZONE 'UTC')::date LOOP
        name := 'readings_' || to_char(month, 'YYYY_MM');
        IF to_regclass('telemetry.' || name) IS NULL THEN
            EXECUTE format('CREATE TABLE telemetry.%I PARTITION OF telemetry.readings FOR VALUES FROM (%L) TO (%L)',
                name, to_char(month, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(month + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00');
            -- Reached through the parent, whose policy applies; the partition's own guards direct access.
            EXECUTE format('ALTER TABLE telemetry.%I ENABLE ROW LEVEL SECURITY', name);
            EXECUTE format('ALTER TABLE telemetry.%I FORCE ROW LEVEL SECURITY', name);
            EXECUTE format('CREATE POLICY scoped ON telemetry.%I USING (platform.row_visible(tenant_id)) WITH CHECK (platform.row_visible(tenant_id))', name);
            created := created + 1;
        END IF;
        month := month + interval '1 month';
    END LOOP;
    RETURN created;
END
$$;

-- Drops every monthly partition that ends at or before p_before; answers the dropped names.
CREATE FUNCTION telemetry.drop_partitions_before(p_before timestamptz) RETURNS SETOF text
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = telemetry, pg_temp AS
$$
DECLARE
    part record;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('telemetry.partitions'));
    FOR part IN
        SELECT c.relname
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'telemetry.readings'::regclass AND c.relname ~ '^readings_[0-9]{4}_[0-9]{2}$'
           AND (to_date(substr(c.relname, 10), 'YYYY_MM') + interval '1 month') AT TIME ZONE 'UTC' <= p_before
         ORDER BY c.relname
    LOOP
        EXECUTE format('DROP TABLE telemetry.%I', part.relname);
        RETURN NEXT part.relname;
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION telemetry.ensure_partitions(timestamptz, timestamptz), telemetry.drop_partitions_before(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION telemetry.ensure_partitions(timestamptz, timestamptz), telemetry.drop_partitions_before(timestamptz) TO {{app_role}};

-- From the default retention (400 days) back to two months ahead; the partition worker keeps
-- the window moving.
SELECT telemetry.ensure_partitions(now() - interval '400 days', now() + interval '62 days');
