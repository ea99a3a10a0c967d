/**
 * unleash-client's storage for the backup of the last fetched flags, written 0600
 * (its own FileStorageProvider leaves the mode to the umask) and replaced atomically,
 * so a crash mid-write never leaves half a backup to start from.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { safeName } from './unleash-internals.js'

/** The name unleash-client's file provider uses, so existing backups keep working. */
export function backupFile (dir: string, key: string): string {
  return join(dir, `unleash-backup-${safeName(key)}.json`)
}

export class PrivateFileStorage<T> {
  readonly #dir: string

  constructor (dir: string) {
    this.#dir = dir
  }

  async set (key: string, data: T): Promise<void> {
    const file = backupFile(this.#dir, key)
    const tmp = `${file}.${process.pid}.tmp`
    await writeFile(tmp, JSON.stringify(data), { mode: 0o600 })
    await rename(tmp, file)
  }

  async get (key: string): Promise<T | undefined> {
    let text: string
    try {
      text = await readFile(backupFile(this.#dir, key), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    if (text.trim() === '') return undefined
    return JSON.parse(text) as T
  }
}
