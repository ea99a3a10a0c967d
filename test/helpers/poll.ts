/** Waiting for a condition in tests: read again until it holds or time runs out. */
import { sleep } from './proxy.js'

/** Reads every `every` ms until `done` holds of the answer or `ms` pass; the last answer either way (the caller asserts). */
export async function poll<V> (read: () => Promise<V>, done: (v: V) => boolean, ms: number, every = 100): Promise<V> {
  const end = Date.now() + ms
  let v = await read()
  while (!done(v) && Date.now() < end) {
    await sleep(every)
    v = await read()
  }
  return v
}
