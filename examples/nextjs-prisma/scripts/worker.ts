// npm run worker: the same handlers in a long-running process, woken by LISTEN/NOTIFY.
import { Worker } from 'pg-conveyor/worker';
import { handlers, queue } from '../lib/jobs';

const worker = new Worker({ queue, connectionString: process.env.DATABASE_URL, handlers });
await worker.start();
process.on('SIGTERM', () => void worker.stop().then(() => queue.close()));
process.on('SIGINT', () => void worker.stop().then(() => queue.close()));
