-- Fleet: farms, their zones, the devices in them and the devices' credentials, plus the
-- catalogue of sensor models a device can be. Every tenant-owned table carries tenant_id under
-- forced row-level security (platform.row_visible); the constraints below are the law the
-- features rely on: names unique among live rows, a device's zone in its farm, one live
-- credential per device, states from the state machine only.
CREATE SCHEMA fleet;
GRANT USAGE ON SCHEMA fleet TO {{app_role}};

-- The catalogue is the same for every tenant (no tenant_id, read-only for the application).
CREATE TABLE fleet.device_models (
    id           text    PRIMARY KEY CHECK (id ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    manufacturer text    NOT NULL,
    name         text    NOT NULL,
    metrics      text[]  NOT NULL CHECK (cardinality(metrics) > 0
                     AND metrics <@ ARRAY['temperature_c', 'humidity_pct', 'soil_moisture_pct', 'co2_ppm', 'light_ppfd', 'battery_v'])
);
INSERT INTO fleet.device_models (id, manufacturer, name, metrics) VALUES
    ('sensirion-scd41', 'Sensirion', 'SCD41 CO₂, temperature and humidity sensor', ARRAY['co2_ppm', 'temperature_c', 'humidity_pct']),
    ('sensirion-sht45', 'Sensirion', 'SHT45 temperature and humidity sensor', ARRAY['temperature_c', 'humidity_pct']),
    ('bosch-bme280', 'Bosch Sensortec', 'BME280 environmental sensor', ARRAY['temperature_c', 'humidity_pct']),
    ('meter-teros-12', 'METER Group', 'TEROS 12 soil moisture, temperature and EC sensor', ARRAY['soil_moisture_pct', 'temperature_c']),
    ('apogee-sq-520', 'Apogee Instruments', 'SQ-520 full-spectrum quantum (PAR) sensor', ARRAY['light_ppfd']),
    ('dragino-lht65', 'Dragino', 'LHT65 LoRaWAN temperature and humidity sensor', ARRAY['temperature_c', 'humidity_pct', 'battery_v']),
    ('milesight-em500-co2', 'Milesight', 'EM500-CO2 LoRaWAN CO₂ sensor', ARRAY['co2_ppm', 'temperature_c', 'humidity_pct', 'battery_v']),
    ('seeed-sensecap-s2105', 'Seeed Studio', 'SenseCAP S2105 LoRaWAN soil moisture and temperature sensor', ARRAY['soil_moisture_pct', 'temperature_c', 'battery_v']);

CREATE TABLE fleet.farms (
    id          uuid             PRIMARY KEY,
    tenant_id   uuid             NOT NULL,
    name        text             NOT NULL CHECK (length(name) BETWEEN 1 AND 120 AND name = btrim(name)),
    latitude    double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude   double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    time_zone   text             NOT NULL,
    area_ha     double precision CHECK (area_ha > 0),
    created_at  timestamptz      NOT NULL,
    updated_at  timestamptz      NOT NULL,
    created_by  uuid,
    version     integer          NOT NULL DEFAULT 1 CHECK (version > 0),
    is_deleted  boolean          NOT NULL DEFAULT false,
    -- (id, tenant_id) is what zones reference: a zone's farm is always of the zone's tenant.
    UNIQUE (id, tenant_id)
);
CREATE UNIQUE INDEX farms_live_name ON fleet.farms (tenant_id, lower(name)) WHERE NOT is_deleted;

CREATE TABLE fleet.zones (
    id          uuid        PRIMARY KEY,
    tenant_id   uuid        NOT NULL,
    farm_id     uuid        NOT NULL,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 120 AND name = btrim(name)),
    kind        text        NOT NULL CHECK (kind IN ('greenhouse', 'field', 'nursery', 'storage')),
    targets     jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(targets) = 'object'),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    created_by  uuid,
    version     integer     NOT NULL DEFAULT 1 CHECK (version > 0),
    is_deleted  boolean     NOT NULL DEFAULT false,
    FOREIGN KEY (farm_id, tenant_id) REFERENCES fleet.farms (id, tenant_id),
    -- (id, farm_id, tenant_id) is what devices reference: a device's farm is its zone's farm.
    UNIQUE (id, farm_id, tenant_id)
);
CREATE UNIQUE INDEX zones_live_name ON fleet.zones (farm_id, lower(name)) WHERE NOT is_deleted;

CREATE TABLE fleet.devices (
    id                uuid        PRIMARY KEY,
    tenant_id         uuid        NOT NULL,
    serial_number     text        NOT NULL CHECK (serial_number ~ '^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$'),
    model_id          text        NOT NULL REFERENCES fleet.device_models (id),
    farm_id           uuid        NOT NULL,
    zone_id           uuid        NOT NULL,
    metrics           text[]      NOT NULL CHECK (cardinality(metrics) > 0),
    status            text        NOT NULL CHECK (status IN ('PROVISIONED', 'ACTIVE', 'OFFLINE', 'FAULT', 'DECOMMISSIONED')),
    fault_code        text        CHECK (fault_code IN ('sensor_failure', 'calibration_drift', 'battery_low', 'power_loss',
                                      'connectivity_loss', 'physical_damage', 'water_ingress', 'other')),
    fault_note        text        CHECK (length(fault_note) BETWEEN 1 AND 500),
    fault_reported_at timestamptz,
    last_seen_at      timestamptz,
    activated_at      timestamptz,
    decommissioned_at timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    created_by        uuid,
    version           integer     NOT NULL DEFAULT 1 CHECK (version > 0),
    FOREIGN KEY (zone_id, farm_id, tenant_id) REFERENCES fleet.zones (id, farm_id, tenant_id),
    -- A fault exactly while FAULT; a decommissioning date exactly once DECOMMISSIONED.
    CHECK ((status = 'FAULT') = (fault_code IS NOT NULL AND fault_note IS NOT NULL AND fault_reported_at IS NOT NULL)),
    CHECK ((status = 'DECOMMISSIONED') = (decommissioned_at IS NOT NULL)),
    CHECK (status = 'PROVISIONED' OR status = 'DECOMMISSIONED' OR activated_at IS NOT NULL),
    -- (id, tenant_id) is what credentials reference: a credential is always of its device's tenant.
    UNIQUE (id, tenant_id)
);
-- A serial number names one device at a time: it may be registered again once decommissioned.
CREATE UNIQUE INDEX devices_live_serial ON fleet.devices (tenant_id, serial_number) WHERE status <> 'DECOMMISSIONED';
CREATE INDEX devices_tenant_order ON fleet.devices (tenant_id, id);
CREATE INDEX devices_zone ON fleet.devices (zone_id) WHERE status <> 'DECOMMISSIONED';
CREATE INDEX devices_farm ON fleet.devices (farm_id, id);
-- The offline sweep reads ACTIVE devices by their last sign of life.
CREATE INDEX devices_active_silence ON fleet.devices (COALESCE(last_seen_at, activated_at)) WHERE status = 'ACTIVE';

-- Only a SHA-256 of a credential's secret is kept (the secret has 256 random bits, so a fast
-- hash is enough: there is nothing to guess). At most one live credential per device.
CREATE TABLE fleet.device_credentials (
    id          uuid        PRIMARY KEY,
    tenant_id   uuid        NOT NULL,
    device_id   uuid        NOT NULL,
    secret_hash bytea       NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
    issued_at   timestamptz NOT NULL,
    revoked_at  timestamptz,
    FOREIGN KEY (device_id, tenant_id) REFERENCES fleet.devices (id, tenant_id),
    CHECK (revoked_at IS NULL OR revoked_at >= issued_at)
);
CREATE UNIQUE INDEX device_credentials_one_live ON fleet.device_credentials (device_id) WHERE revoked_at IS NULL;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['farms', 'zones', 'devices', 'device_credentials'] LOOP
        EXECUTE format('ALTER TABLE fleet.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE fleet.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY scoped ON fleet.%I USING (platform.row_visible(tenant_id)) WITH CHECK (platform.row_visible(tenant_id))', t);
    END LOOP;
END $$;

-- No DELETE: farms and zones are archived (is_deleted), devices decommissioned, credentials revoked.
GRANT SELECT, INSERT, UPDATE ON fleet.farms, fleet.zones, fleet.devices, fleet.device_credentials TO {{app_role}};
GRANT SELECT ON fleet.device_models TO {{app_role}};
