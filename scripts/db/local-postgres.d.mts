/** Types for local-postgres.mjs (plain JavaScript, so it runs before anything is installed). */
export function ensureLocalPostgres(): Promise<string>;
export function stopLocalPostgres(): Promise<boolean>;
export function localPostgresUrl(): Promise<string | null>;
/** DATABASE_URL when set (used untouched), else the embedded cluster's URL. */
export function resolveDatabaseUrl(): Promise<string>;
