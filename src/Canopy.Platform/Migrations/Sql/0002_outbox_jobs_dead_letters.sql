-- Outbox, job queue and dead letters (ADR 0009). Rows of a tenant carry tenant_id; platform-wide
-- rows have none. Row-level security lets a transaction see its own tenant's rows, and the
-- platform's workers (which set app.scope = 'platform') every row.

CREATE OR REPLACE FUNCTION platform.row_visible(row_tenant uuid) RETURNS boolean
    LANGUAGE sql STABLE AS
$$
    SELECT current_setting('app.scope', true) = 'platform'
        OR (row_tenant IS NOT NULL AND row_tenant = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
$$;

CREATE TABLE platform.outbox (
    seq           bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    id            uuid        PRIMARY KEY,
    type          text        NOT NULL CHECK (type ~ '^[a-z][a-z0-9_]*\.[a-z][a-z0-9_.]*$'),
    version       integer     NOT NULL CHECK (version > 0),
    tenant_id     uuid,
    aggregate_id  uuid,
    payload       jsonb       NOT NULL,
    occurred_at   timestamptz NOT NULL,
    trace_parent  text
);

-- One row per (event, subscriber): each subscriber advances, fails and dead-letters on its own.
CREATE TABLE platform.outbox_deliveries (
    event_id        uuid        NOT NULL REFERENCES platform.outbox (id) ON DELETE CASCADE,
    event_seq       bigint      NOT NULL,
    subscriber      text        NOT NULL,
    aggregate_id    uuid,
    tenant_id       uuid,
    status          text        NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DONE', 'DEAD')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL,
    locked_until    timestamptz,
    locked_by       text,
    last_error      text,
    done_at         timestamptz,
    PRIMARY KEY (event_id, subscriber)
);
CREATE INDEX outbox_deliveries_ready ON platform.outbox_deliveries (subscriber, event_seq) WHERE status = 'PENDING';
CREATE INDEX outbox_deliveries_aggregate ON platform.outbox_deliveries (subscriber, aggregate_id, event_seq) WHERE status = 'PENDING';

-- What each subscriber has handled, written in the handler's own transaction: a redelivery is a no-op.
CREATE TABLE platform.inbox (
    subscriber   text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subscriber, event_id)
);

CREATE TABLE platform.jobs (
    id               uuid        PRIMARY KEY,
    queue            text        NOT NULL,
    type             text        NOT NULL,
    tenant_id        uuid,
    payload          jsonb       NOT NULL,
    idempotency_key  text,
    status           text        NOT NULL DEFAULT 'QUEUED'
                                 CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'DEAD')),
    priority         integer     NOT NULL DEFAULT 0,
    run_at           timestamptz NOT NULL,
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer     NOT NULL CHECK (max_attempts > 0),
    locked_until     timestamptz,
    locked_by        text,
    progress         real        NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    cancel_requested boolean     NOT NULL DEFAULT false,
    last_error       text,
    trace_parent     text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    finished_at      timestamptz,
    CHECK ((status IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'DEAD')) = (finished_at IS NOT NULL))
);
CREATE INDEX jobs_ready ON platform.jobs (queue, priority DESC, run_at) WHERE status IN ('QUEUED', 'RUNNING');
CREATE INDEX jobs_finished ON platform.jobs (finished_at) WHERE finished_at IS NOT NULL;
-- A key names one job for good (per queue and tenant): enqueueing it again returns that job,
-- even once it is dead (replay the dead letter instead).
CREATE UNIQUE INDEX jobs_idempotency ON platform.jobs (queue, coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE platform.job_attempts (
    job_id      uuid        NOT NULL REFERENCES platform.jobs (id) ON DELETE CASCADE,
    attempt     integer     NOT NULL CHECK (attempt > 0),
    worker      text        NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    outcome     text        CHECK (outcome IN ('succeeded', 'failed', 'cancelled', 'lease-expired')),
    error       text,
    PRIMARY KEY (job_id, attempt)
);

CREATE TABLE platform.dead_letters (
    id              uuid        PRIMARY KEY,
    source          text        NOT NULL CHECK (source IN ('job', 'event')),
    source_id       uuid        NOT NULL,
    queue           text        NOT NULL,
    owner           text        NOT NULL CHECK (length(owner) > 0),
    tenant_id       uuid,
    type            text        NOT NULL,
    payload         jsonb       NOT NULL,
    idempotency_key text,
    triage          text        NOT NULL CHECK (triage IN ('transient', 'poison', 'downstream_outage')),
    status          text        NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'REPLAYED', 'QUARANTINED', 'HELD')),
    last_error      text        NOT NULL,
    attempts        jsonb       NOT NULL,
    replays         integer     NOT NULL DEFAULT 0 CHECK (replays BETWEEN 0 AND 3),
    next_replay_at  timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    version         integer     NOT NULL DEFAULT 1 CHECK (version > 0),
    UNIQUE (source, source_id)
);
CREATE INDEX dead_letters_open ON platform.dead_letters (status, triage, next_replay_at);

CREATE TABLE platform.dead_letter_replays (
    dead_letter_id uuid        NOT NULL REFERENCES platform.dead_letters (id) ON DELETE CASCADE,
    replayed_at    timestamptz NOT NULL,
    by_actor       uuid,
    automatic      boolean     NOT NULL
);
CREATE INDEX dead_letter_replays_recent ON platform.dead_letter_replays (replayed_at);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['outbox', 'outbox_deliveries', 'jobs', 'dead_letters'] LOOP
        EXECUTE format('ALTER TABLE platform.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE platform.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY scoped ON platform.%I USING (platform.row_visible(tenant_id)) WITH CHECK (platform.row_visible(tenant_id))', t);
    END LOOP;
END $$;

-- Attempts and replays are visible exactly when their job or letter is.
ALTER TABLE platform.job_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform.job_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY through_job ON platform.job_attempts
    USING (EXISTS (SELECT 1 FROM platform.jobs j WHERE j.id = job_id))
    WITH CHECK (EXISTS (SELECT 1 FROM platform.jobs j WHERE j.id = job_id));
ALTER TABLE platform.dead_letter_replays ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform.dead_letter_replays FORCE ROW LEVEL SECURITY;
CREATE POLICY through_letter ON platform.dead_letter_replays
    USING (EXISTS (SELECT 1 FROM platform.dead_letters d WHERE d.id = dead_letter_id))
    WITH CHECK (EXISTS (SELECT 1 FROM platform.dead_letters d WHERE d.id = dead_letter_id));

GRANT EXECUTE ON FUNCTION platform.row_visible(uuid) TO {{app_role}};
GRANT SELECT, INSERT, UPDATE, DELETE ON platform.outbox, platform.outbox_deliveries, platform.inbox,
    platform.jobs, platform.job_attempts, platform.dead_letters, platform.dead_letter_replays TO {{app_role}};

-- Which subscriber receives which event type; the service adds its subscribers at start-up.
CREATE TABLE platform.event_subscriptions (
    subscriber text NOT NULL,
    event_type text NOT NULL,
    PRIMARY KEY (subscriber, event_type)
);
GRANT SELECT, INSERT ON platform.event_subscriptions TO {{app_role}};

-- Writing an event fans it out to its subscribers in the same transaction, and wakes the relay
-- at commit (NOTIFY is transactional).
CREATE FUNCTION platform.fan_out_event() RETURNS trigger LANGUAGE plpgsql AS
$$
BEGIN
    INSERT INTO platform.outbox_deliveries (event_id, event_seq, subscriber, aggregate_id, tenant_id, next_attempt_at)
    SELECT NEW.id, NEW.seq, s.subscriber, NEW.aggregate_id, NEW.tenant_id, now()
    FROM platform.event_subscriptions s
    WHERE s.event_type = NEW.type;
    PERFORM pg_notify('canopy_outbox', '');
    RETURN NEW;
END
$$;
CREATE TRIGGER outbox_fan_out AFTER INSERT ON platform.outbox FOR EACH ROW EXECUTE FUNCTION platform.fan_out_event();

CREATE FUNCTION platform.notify_job() RETURNS trigger LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('canopy_jobs', NEW.queue);
    RETURN NEW;
END
$$;
CREATE TRIGGER jobs_notify AFTER INSERT ON platform.jobs FOR EACH ROW EXECUTE FUNCTION platform.notify_job();

-- The dead-letter source id of an (event, subscriber) delivery: the first 16 bytes of
-- SHA-256("<event id hex>/<subscriber>"), the same as OutboxRelay.DeliveryId.
CREATE FUNCTION platform.outbox_delivery_id(event_id uuid, subscriber text) RETURNS uuid
    LANGUAGE sql IMMUTABLE AS
$$ SELECT encode(substring(sha256(convert_to(replace(event_id::text, '-', '') || '/' || subscriber, 'UTF8')) FROM 1 FOR 16), 'hex')::uuid $$;
GRANT EXECUTE ON FUNCTION platform.outbox_delivery_id(uuid, text) TO {{app_role}};
