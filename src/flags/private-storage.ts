/**
 * unleash-client's storage for the backup of the last fetched flags, written 0600
 * (its own FileStorageProvider leaves the mode to the umask) and replaced atomically,
 * so a crash mid-write never leaves half a backup to start from. The ramp state,
 * the timeline and the readiness evidence use the same writing and naming.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { renameSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join, resolve } from 'node:path'
import { safeName } from './unleash-internals.js'

/** The name unleash-client's file provider uses, so existing backups keep working. */
export function backupFile (dir: string, key: string): string {
  return join(dir, `unleash-backup-${safeName(key)}.json`)
}

function tmpName (file: string): string {
  return `${file}.${process.pid}.tmp`
}

/** Replaces a state file whole (0600): a crash mid-write never leaves half a file. */
export function writePrivateFileSync (file: string, text: string): void {
  const tmp = tmpName(file)
  writeFileSync(tmp, text, { mode: 0o600 })
  renameSync(tmp, file)
}

/** A state file's name for one config file: several proxies may share a state directory. */
export function stateFileName (prefix: string, configFile: string, extension: string): string {
  return `${prefix}-${createHash('sha256').update(resolve(configFile)).digest('hex').slice(0, 12)}.${extension}`
}

export class PrivateFileStorage<T> {
  readonly #dir: string

  constructor (dir: string) {
    this.#dir = dir
  }

  async set (key: string, data: T): Promise<void> {
    const file = backupFile(this.#dir, key)
    const tmp = tmpName(file)
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
