import net from 'node:net';

export interface TcpBalancer {
  url: string;
  port: number;
  /** Where new connections go from now on, first choice first; empty refuses them all. */
  setBackends(ports: number[]): void;
  /** Cuts every open connection, as when a network path or a balancer node fails. */
  cutAll(): void;
  close(): Promise<void>;
}

/**
 * A stand-in for the load balancer in front of several gateway nodes: each new TCP connection goes
 * to the first backend that accepts it, so clients of a dead node land on the next one, as behind
 * nginx with `proxy_next_upstream`. WebSocket upgrades pass through untouched (it is plain TCP).
 */
export async function startTcpBalancer(initialBackends: number[]): Promise<TcpBalancer> {
  let backendPorts = [...initialBackends];
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const connectTo = (index: number, client: net.Socket, ports = backendPorts): void => {
    if (index >= ports.length) {
      client.destroy();
      return;
    }
    const upstream = net.connect(ports[index] as number, '127.0.0.1');
    track(upstream);
    const refused = () => connectTo(index + 1, client, ports);
    upstream.once('error', refused);
    upstream.once('connect', () => {
      upstream.off('error', refused);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.pipe(upstream).pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
      client.resume();
    });
  };
  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    track(client);
    client.on('error', () => client.destroy());
    connectTo(0, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    setBackends(ports) {
      backendPorts = [...ports];
    },
    cutAll() {
      for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
