/**
 * Listening on a port shared by every process of the host. Node 20's net module cannot set
 * SO_REUSEPORT (reusePort came in Node 22.12), so native/listen opens the socket with it and the
 * server listens on its file descriptor; the kernel then spreads connections across the processes.
 */
import type net from 'node:net';
import { loadNativeAddon } from './native-addon.js';

interface ListenAddon {
  listenReusePort(host: string, port: number, backlog: number): number;
}

/** Listens `server` on host:port with SO_REUSEPORT; resolves with the port (the kernel's pick for 0). */
export async function listenReusePort(server: net.Server, host: string, port: number): Promise<number> {
  const fd = loadNativeAddon<ListenAddon>('listen').listenReusePort(host, port, 511);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as net.AddressInfo).port;
}
