-- Effects of test job handlers, one row per execution (deliberately no unique key): a job that
-- ran twice shows up as two rows.
CREATE TABLE kernel_tests.job_effects (
    id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id  uuid        NOT NULL,
    worker  text        NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE kernel_tests.event_effects (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber  text        NOT NULL,
    event_id    uuid        NOT NULL,
    aggregate_id uuid,
    seq         integer,
    at          timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT ON kernel_tests.job_effects, kernel_tests.event_effects TO {{app_role}};
