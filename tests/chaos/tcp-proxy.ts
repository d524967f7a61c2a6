/**
 * The one address clients know, in front of whichever server is primary: what a managed
 * database's DNS name or a PgBouncer in front of a failover pair is. repoint() sends new
 * connections to another server and cuts every open one, as a failover does to its clients.
 * swallowReplies() lets requests through and drops the answers: a commit the client never
 * hears of, the moment a crash makes an outcome unknown.
 */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Where new connections go from now on; every connection open now is cut. */
  repoint(targetPort: number): void;
  /** The server connections go to now. */
  readonly target: number;
  /** From now until repoint(), answers from the server are dropped on the way back. */
  swallowReplies(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let target = targetPort;
  let swallowing = false;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    open.add(client);
    open.add(upstream);
    const cut = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', cut).on('close', cut);
    upstream.on('error', cut).on('close', cut);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (!swallowing) client.write(chunk);
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get target() {
      return target;
    },
    swallowReplies() {
      swallowing = true;
    },
    repoint(port) {
      target = port;
      swallowing = false;
      for (const socket of open) socket.destroy();
      open.clear();
    },
    close: () => {
      for (const socket of open) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
