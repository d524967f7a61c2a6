// The app's table, after the queue's (npm run migrate). A real app would use its own migration tool.
import pg from 'pg';

const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
await client.query(`CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, email text NOT NULL, status text NOT NULL DEFAULT 'OPEN')`);
await client.end();
console.log('app tables ready');
