CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;

COMMENT ON EXTENSION vector IS 'vector data type and ivfflat and hnsw access methods';

CREATE TYPE public."IngestStatus" AS ENUM (
    'QUEUED',
    'PROCESSING',
    'COMPLETED',
    'FAILED'
);

CREATE TYPE public."JobStatus" AS ENUM (
    'PENDING',
    'PROCESSING',
    'COMPLETED',
    'FAILED',
    'CANCELLED'
);

CREATE TYPE public."UserRole" AS ENUM (
    'VIEWER',
    'MANAGER',
    'ADMIN'
);

CREATE TYPE public."WorkflowRunStatus" AS ENUM (
    'RUNNING',
    'COMPLETED',
    'FAILED',
    'CANCELLED'
);

CREATE FUNCTION public.conveyor_uuid_v7() RETURNS uuid
    LANGUAGE sql
    AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;

CREATE FUNCTION public.conveyor_window_key(key text, window_ms bigint, at timestamp with time zone) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    AS $$
  SELECT 'dedupe:' || key || '@' || (floor(extract(epoch FROM at) * 1000 / window_ms)::bigint * window_ms)::text
$$;

CREATE TABLE public.api_key_usage (
    api_key_id uuid NOT NULL,
    meter text NOT NULL,
    window_start timestamp with time zone NOT NULL,
    used integer NOT NULL,
    CONSTRAINT api_key_usage_meter_check CHECK ((meter = ANY (ARRAY['requests'::text, 'records'::text, 'embeddings'::text]))),
    CONSTRAINT api_key_usage_used_check CHECK ((used >= 0))
);

CREATE TABLE public.api_keys (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    project_id uuid NOT NULL,
    name text NOT NULL,
    prefix text NOT NULL,
    secret_hash bytea NOT NULL,
    requests_per_minute integer DEFAULT 120 NOT NULL,
    records_per_day integer DEFAULT 100000 NOT NULL,
    embeddings_per_day integer DEFAULT 100000 NOT NULL,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_used_at timestamp with time zone,
    revoked_at timestamp with time zone,
    CONSTRAINT api_keys_limits_check CHECK (((requests_per_minute > 0) AND (records_per_day > 0) AND (embeddings_per_day > 0))),
    CONSTRAINT api_keys_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100))),
    CONSTRAINT api_keys_secret_hash_check CHECK ((length(secret_hash) = 32))
);

CREATE TABLE public.conveyor_migrations (
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.drain_slots (
    route text NOT NULL,
    slot integer NOT NULL,
    holder uuid,
    held_until timestamp with time zone,
    started_at timestamp with time zone,
    CONSTRAINT drain_slots_held_check CHECK (((holder IS NULL) = (held_until IS NULL))),
    CONSTRAINT drain_slots_route_check CHECK (((length(route) >= 1) AND (length(route) <= 200))),
    CONSTRAINT drain_slots_slot_check CHECK (((slot >= 0) AND (slot <= 999)))
);

CREATE TABLE public.embeddings (
    record_id uuid NOT NULL,
    project_id uuid NOT NULL,
    embedding public.vector(1536) NOT NULL,
    model text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.ingest_jobs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    project_id uuid NOT NULL,
    status public."IngestStatus" DEFAULT 'QUEUED'::public."IngestStatus" NOT NULL,
    total_records integer NOT NULL,
    saved_records integer DEFAULT 0 NOT NULL,
    skipped_records integer DEFAULT 0 NOT NULL,
    generate_embeddings boolean DEFAULT false NOT NULL,
    queue_job_id uuid,
    error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    completed_at timestamp with time zone,
    pending_records jsonb,
    workflow_run_id uuid,
    processed_records integer DEFAULT 0 NOT NULL,
    CONSTRAINT ingest_jobs_counts_check CHECK (((total_records >= 0) AND (saved_records >= 0) AND (skipped_records >= 0) AND ((saved_records + skipped_records) <= total_records)))
);

CREATE TABLE public.job_bulk_actions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    action text NOT NULL,
    filter jsonb NOT NULL,
    requested_by text,
    matched integer,
    affected integer DEFAULT 0 NOT NULL,
    cursor uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    CONSTRAINT job_bulk_actions_action_check CHECK ((action = ANY (ARRAY['retry'::text, 'cancel'::text, 'delete'::text]))),
    CONSTRAINT job_bulk_actions_requested_by_check CHECK ((length(requested_by) <= 200))
);

CREATE TABLE public.job_counts_minute (
    minute timestamp with time zone NOT NULL,
    job_type text NOT NULL,
    completed integer DEFAULT 0 NOT NULL,
    failed integer DEFAULT 0 NOT NULL,
    cancelled integer DEFAULT 0 NOT NULL
);

CREATE TABLE public.job_counts_rollup (
    one boolean DEFAULT true NOT NULL,
    through timestamp with time zone NOT NULL,
    CONSTRAINT job_counts_rollup_one_check CHECK (one)
);

CREATE TABLE public.job_queue (
    id uuid DEFAULT public.conveyor_uuid_v7() NOT NULL,
    job_type text NOT NULL,
    status public."JobStatus" DEFAULT 'PENDING'::public."JobStatus" NOT NULL,
    payload jsonb,
    result jsonb,
    priority integer DEFAULT 0 NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    max_attempts integer DEFAULT 3 NOT NULL,
    run_at timestamp with time zone DEFAULT now() NOT NULL,
    locked_until timestamp with time zone,
    locked_by text,
    progress jsonb,
    errors jsonb DEFAULT '[]'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    started_at timestamp with time zone,
    completed_at timestamp with time zone,
    concurrency_key text,
    dedupe_key text,
    unique_key text,
    trace_context jsonb,
    parent_id uuid,
    CONSTRAINT job_queue_attempts_check CHECK (((attempts >= 0) AND (attempts <= max_attempts))),
    CONSTRAINT job_queue_concurrency_key_check CHECK (((concurrency_key IS NULL) OR ((length(concurrency_key) >= 1) AND (length(concurrency_key) <= 200)))),
    CONSTRAINT job_queue_dedupe_key_check CHECK (((length(dedupe_key) >= 1) AND (length(dedupe_key) <= 300))),
    CONSTRAINT job_queue_errors_check CHECK ((jsonb_typeof(errors) = 'array'::text)),
    CONSTRAINT job_queue_finished_check CHECK (((status = ANY (ARRAY['COMPLETED'::public."JobStatus", 'FAILED'::public."JobStatus", 'CANCELLED'::public."JobStatus"])) = (completed_at IS NOT NULL))),
    CONSTRAINT job_queue_job_type_check CHECK ((((length(job_type) >= 1) AND (length(job_type) <= 64)) AND (strpos(job_type, ','::text) = 0))),
    CONSTRAINT job_queue_lease_check CHECK (((status = 'PROCESSING'::public."JobStatus") = (locked_until IS NOT NULL))),
    CONSTRAINT job_queue_max_attempts_check CHECK (((max_attempts >= 1) AND (max_attempts <= 1000))),
    CONSTRAINT job_queue_unique_key_check CHECK (((length(unique_key) >= 1) AND (length(unique_key) <= 400)))
)
WITH (fillfactor='80', autovacuum_vacuum_scale_factor='0.02', autovacuum_analyze_scale_factor='0.02', autovacuum_vacuum_cost_delay='1');

CREATE TABLE public.job_schedules (
    name text NOT NULL,
    cron text NOT NULL,
    timezone text DEFAULT 'UTC'::text NOT NULL,
    job_type text NOT NULL,
    payload jsonb,
    priority integer DEFAULT 0 NOT NULL,
    max_attempts integer DEFAULT 3 NOT NULL,
    enabled boolean DEFAULT true NOT NULL,
    last_slot timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT job_schedules_name_check CHECK ((name ~ '^[A-Za-z0-9_.:-]{1,100}$'::text))
);

CREATE TABLE public.job_type_handlers (
    job_type text NOT NULL,
    seen_at timestamp with time zone DEFAULT now() NOT NULL,
    seen_by text,
    CONSTRAINT job_type_handlers_seen_by_check CHECK ((length(seen_by) <= 200))
);

CREATE TABLE public.job_type_limits (
    job_type text NOT NULL,
    max_running integer,
    rate_limit integer,
    rate_period_ms integer,
    rate_slots timestamp with time zone[] DEFAULT '{}'::timestamp with time zone[] NOT NULL,
    rate_counts integer[] DEFAULT '{}'::integer[] NOT NULL,
    CONSTRAINT job_type_limits_max_running_check CHECK (((max_running IS NULL) OR ((max_running >= 1) AND (max_running <= 10000)))),
    CONSTRAINT job_type_limits_rate_check CHECK ((((rate_limit IS NULL) AND (rate_period_ms IS NULL)) OR (((rate_limit >= 1) AND (rate_limit <= 1000000)) AND ((rate_period_ms >= 1) AND (rate_period_ms <= 86400000)))))
);

CREATE TABLE public.job_type_pauses (
    job_type text NOT NULL,
    paused_at timestamp with time zone DEFAULT now() NOT NULL,
    paused_by text,
    CONSTRAINT job_type_pauses_paused_by_check CHECK ((length(paused_by) <= 200))
);

CREATE TABLE public.projects (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT projects_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200)))
);

CREATE TABLE public.records (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    project_id uuid NOT NULL,
    ingest_job_id uuid NOT NULL,
    row_index integer NOT NULL,
    content text NOT NULL,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT records_row_index_check CHECK ((row_index >= 0))
);

CREATE TABLE public.sign_in_throttle (
    key text NOT NULL,
    failures integer NOT NULL,
    last_failure_at timestamp with time zone NOT NULL,
    blocked_until timestamp with time zone,
    CONSTRAINT sign_in_throttle_key_check CHECK (((length(key) >= 1) AND (length(key) <= 300)))
);

CREATE TABLE public.user_sessions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone
);

CREATE TABLE public.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email text NOT NULL,
    password_hash text NOT NULL,
    role public."UserRole" DEFAULT 'VIEWER'::public."UserRole" NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_login_at timestamp with time zone,
    CONSTRAINT users_email_check CHECK (((email = lower(email)) AND ((length(email) >= 3) AND (length(email) <= 254))))
);

CREATE TABLE public.worker_heartbeats (
    name text NOT NULL,
    last_run_at timestamp with time zone DEFAULT now() NOT NULL,
    last_result jsonb
);

CREATE TABLE public.workflow_map_items (
    run_id uuid NOT NULL,
    seq integer NOT NULL,
    idx integer NOT NULL,
    output jsonb,
    error text,
    attempt integer NOT NULL,
    completed_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT workflow_map_items_idx_check CHECK ((idx >= 0))
);

CREATE TABLE public.workflow_runs (
    id uuid DEFAULT public.conveyor_uuid_v7() NOT NULL,
    name text NOT NULL,
    status public."WorkflowRunStatus" DEFAULT 'RUNNING'::public."WorkflowRunStatus" NOT NULL,
    input jsonb,
    output jsonb,
    error text,
    idempotency_key text,
    current_step text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    completed_at timestamp with time zone,
    CONSTRAINT workflow_runs_idempotency_key_check CHECK (((length(idempotency_key) >= 1) AND (length(idempotency_key) <= 300))),
    CONSTRAINT workflow_runs_name_check CHECK (((length(name) >= 1) AND (length(name) <= 64)))
);

CREATE TABLE public.workflow_steps (
    run_id uuid NOT NULL,
    seq integer NOT NULL,
    name text NOT NULL,
    kind text NOT NULL,
    output jsonb,
    wake_at timestamp with time zone,
    attempt integer NOT NULL,
    completed_at timestamp with time zone DEFAULT now() NOT NULL,
    event text,
    match jsonb,
    resolved_at timestamp with time zone,
    duration_ms integer,
    CONSTRAINT workflow_steps_kind_check CHECK ((kind = ANY (ARRAY['step'::text, 'sleep'::text, 'wait'::text, 'map'::text]))),
    CONSTRAINT workflow_steps_seq_check CHECK ((seq >= 0))
);

ALTER TABLE ONLY public.api_key_usage
    ADD CONSTRAINT api_key_usage_pkey PRIMARY KEY (api_key_id, meter, window_start);

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.conveyor_migrations
    ADD CONSTRAINT conveyor_migrations_pkey PRIMARY KEY (name);

ALTER TABLE ONLY public.drain_slots
    ADD CONSTRAINT drain_slots_pkey PRIMARY KEY (route, slot);

ALTER TABLE ONLY public.embeddings
    ADD CONSTRAINT embeddings_pkey PRIMARY KEY (record_id);

ALTER TABLE ONLY public.ingest_jobs
    ADD CONSTRAINT ingest_jobs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.job_bulk_actions
    ADD CONSTRAINT job_bulk_actions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.job_counts_minute
    ADD CONSTRAINT job_counts_minute_pkey PRIMARY KEY (minute, job_type);

ALTER TABLE ONLY public.job_counts_rollup
    ADD CONSTRAINT job_counts_rollup_pkey PRIMARY KEY (one);

ALTER TABLE ONLY public.job_queue
    ADD CONSTRAINT job_queue_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.job_schedules
    ADD CONSTRAINT job_schedules_pkey PRIMARY KEY (name);

ALTER TABLE ONLY public.job_type_handlers
    ADD CONSTRAINT job_type_handlers_pkey PRIMARY KEY (job_type);

ALTER TABLE ONLY public.job_type_limits
    ADD CONSTRAINT job_type_limits_pkey PRIMARY KEY (job_type);

ALTER TABLE ONLY public.job_type_pauses
    ADD CONSTRAINT job_type_pauses_pkey PRIMARY KEY (job_type);

ALTER TABLE ONLY public.projects
    ADD CONSTRAINT projects_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.records
    ADD CONSTRAINT records_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.sign_in_throttle
    ADD CONSTRAINT sign_in_throttle_pkey PRIMARY KEY (key);

ALTER TABLE ONLY public.user_sessions
    ADD CONSTRAINT user_sessions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.worker_heartbeats
    ADD CONSTRAINT worker_heartbeats_pkey PRIMARY KEY (name);

ALTER TABLE ONLY public.workflow_map_items
    ADD CONSTRAINT workflow_map_items_pkey PRIMARY KEY (run_id, seq, idx);

ALTER TABLE ONLY public.workflow_runs
    ADD CONSTRAINT workflow_runs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.workflow_steps
    ADD CONSTRAINT workflow_steps_pkey PRIMARY KEY (run_id, seq);

CREATE INDEX api_key_usage_window_start_idx ON public.api_key_usage USING btree (window_start);

CREATE UNIQUE INDEX api_keys_prefix_key ON public.api_keys USING btree (prefix);

CREATE INDEX api_keys_project_id_idx ON public.api_keys USING btree (project_id);

CREATE INDEX embeddings_embedding_hnsw_idx ON public.embeddings USING hnsw (embedding public.vector_cosine_ops);

CREATE INDEX embeddings_project_id_idx ON public.embeddings USING btree (project_id);

CREATE INDEX ingest_jobs_project_id_idx ON public.ingest_jobs USING btree (project_id, created_at DESC);

CREATE INDEX job_bulk_actions_created_idx ON public.job_bulk_actions USING btree (created_at);

CREATE UNIQUE INDEX job_queue_dedupe_active_idx ON public.job_queue USING btree (dedupe_key) WHERE ((dedupe_key IS NOT NULL) AND (status = ANY (ARRAY['PENDING'::public."JobStatus", 'PROCESSING'::public."JobStatus"])));

CREATE INDEX job_queue_finished_idx ON public.job_queue USING btree (completed_at) WHERE (status = ANY (ARRAY['COMPLETED'::public."JobStatus", 'FAILED'::public."JobStatus", 'CANCELLED'::public."JobStatus"]));

CREATE INDEX job_queue_lease_idx ON public.job_queue USING btree (locked_until) WHERE (locked_until IS NOT NULL);

CREATE UNIQUE INDEX job_queue_one_running_per_key_idx ON public.job_queue USING btree (concurrency_key) WHERE ((status = 'PROCESSING'::public."JobStatus") AND (concurrency_key IS NOT NULL));

CREATE INDEX job_queue_parent_idx ON public.job_queue USING btree (parent_id) WHERE (parent_id IS NOT NULL);

CREATE INDEX job_queue_ready_idx ON public.job_queue USING btree (job_type, priority DESC, run_at, id) WHERE (status = 'PENDING'::public."JobStatus");

CREATE UNIQUE INDEX job_queue_unique_key_idx ON public.job_queue USING btree (unique_key) WHERE (unique_key IS NOT NULL);

CREATE INDEX job_queue_unsuccessful_idx ON public.job_queue USING btree (job_type, status, id) WHERE (status = ANY (ARRAY['FAILED'::public."JobStatus", 'CANCELLED'::public."JobStatus"]));

CREATE UNIQUE INDEX projects_name_key ON public.projects USING btree (name);

CREATE UNIQUE INDEX records_ingest_job_id_row_index_key ON public.records USING btree (ingest_job_id, row_index);

CREATE INDEX records_project_id_idx ON public.records USING btree (project_id, id);

CREATE INDEX user_sessions_user_id_idx ON public.user_sessions USING btree (user_id);

CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email);

CREATE INDEX workflow_runs_created_idx ON public.workflow_runs USING btree (created_at);

CREATE INDEX workflow_runs_finished_idx ON public.workflow_runs USING btree (completed_at) WHERE (status = ANY (ARRAY['COMPLETED'::public."WorkflowRunStatus", 'FAILED'::public."WorkflowRunStatus", 'CANCELLED'::public."WorkflowRunStatus"]));

CREATE UNIQUE INDEX workflow_runs_idempotency_idx ON public.workflow_runs USING btree (name, idempotency_key) WHERE (idempotency_key IS NOT NULL);

CREATE INDEX workflow_steps_waiting_idx ON public.workflow_steps USING btree (event) WHERE ((kind = 'wait'::text) AND (resolved_at IS NULL));

ALTER TABLE ONLY public.api_key_usage
    ADD CONSTRAINT api_key_usage_api_key_id_fkey FOREIGN KEY (api_key_id) REFERENCES public.api_keys(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_project_id_fkey FOREIGN KEY (project_id) REFERENCES public.projects(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.embeddings
    ADD CONSTRAINT embeddings_record_id_fkey FOREIGN KEY (record_id) REFERENCES public.records(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.ingest_jobs
    ADD CONSTRAINT ingest_jobs_project_id_fkey FOREIGN KEY (project_id) REFERENCES public.projects(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.records
    ADD CONSTRAINT records_ingest_job_id_fkey FOREIGN KEY (ingest_job_id) REFERENCES public.ingest_jobs(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.records
    ADD CONSTRAINT records_project_id_fkey FOREIGN KEY (project_id) REFERENCES public.projects(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.user_sessions
    ADD CONSTRAINT user_sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.workflow_map_items
    ADD CONSTRAINT workflow_map_items_run_id_seq_fkey FOREIGN KEY (run_id, seq) REFERENCES public.workflow_steps(run_id, seq) ON DELETE CASCADE;

ALTER TABLE ONLY public.workflow_steps
    ADD CONSTRAINT workflow_steps_run_id_fkey FOREIGN KEY (run_id) REFERENCES public.workflow_runs(id) ON DELETE CASCADE;
