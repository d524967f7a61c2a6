// The module getting-started.md's "lib/jobs.ts" snippet makes: what the later snippets import as '@/lib/jobs'.
import type { DatabaseQueue, JobDefinition } from 'pg-conveyor';

export declare const queue: DatabaseQueue;
export declare const sendReceipt: JobDefinition<{ orderId: string; email: string }, { orderId: string; email: string }, { sent: boolean }, 'SEND_RECEIPT'>;
