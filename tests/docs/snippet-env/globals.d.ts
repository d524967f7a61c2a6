/**
 * What the guides' snippets assume exists in the reader's app (their own mailer, their Prisma
 * client, jobs defined in an earlier snippet), declared so that each snippet type-checks alone. A
 * snippet that declares one of these itself shadows it.
 */
type DefinedJob<P, T extends string> = import('pg-conveyor').JobDefinition<P, P, unknown, T>;

interface DemoOrder {
  id: string;
  email: string;
}
/** A Prisma interactive transaction of an app with an `order` model. */
interface DemoTx {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
  order: { update(args: { where: { id: string }; data: { status: string } }): Promise<DemoOrder> };
}

declare const queue: import('pg-conveyor').DatabaseQueue;
declare const prisma: { $transaction<T>(fn: (tx: DemoTx) => Promise<T>): Promise<T> };
declare const connectionString: string;
declare const orderId: string;

declare const sendReceipt: DefinedJob<{ orderId: string; email: string }, 'SEND_RECEIPT'>;
declare const resizeImage: DefinedJob<{ key: string; width?: number }, 'RESIZE_IMAGE'>;
declare const sendWelcome: DefinedJob<{ userId: string }, 'SEND_WELCOME'>;
declare const workflows: import('pg-conveyor/workflows').Workflows;

declare const mailer: { send(to: string, text: string, options?: { signal?: AbortSignal }): Promise<unknown> };
declare const images: { resize(key: string, width: number, options: { signal: AbortSignal }): Promise<number> };
declare const sms: {
  sendMany(messages: { to: string; text: string }[], options: { signal: AbortSignal }): Promise<({ ok: true; sid: string } | { ok: false; reason: string })[]>;
};
declare const metrics: { record(result: import('pg-conveyor').DrainResult): void };
declare function syncCrm(job: import('pg-conveyor').Job): Promise<unknown>;
declare function sendSmsBatch(jobs: import('pg-conveyor').Job[], ctx: import('pg-conveyor').BatchContext): Promise<void>;
declare function createUser(email: string): Promise<{ id: string }>;
declare function sendEmail(job: import('pg-conveyor').Job): Promise<unknown>;
declare function signUp(queue: import('pg-conveyor').DatabaseQueue, email: string): Promise<unknown>;
declare function signUpHandler(job: import('pg-conveyor').Job): Promise<unknown>;
