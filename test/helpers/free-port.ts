/** A loopback port nothing listens on (bound, then released): for a refused backend, or a server to start. Shared with bench/. */
import net from 'node:net'

export async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
