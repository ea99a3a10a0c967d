/**
 * Calls back when the config file may have changed. Watches the directory, not the
 * file: editors and Kubernetes ConfigMaps replace files by rename, which a file
 * watch would miss. Spurious events are harmless: a reload of identical content is a no-op.
 */
import { watch, type FSWatcher } from 'node:fs'
import { dirname } from 'node:path'

export function watchConfigFile (file: string, onChange: () => void, debounceMs = 150): () => void {
  let timer: NodeJS.Timeout | undefined
  let watcher: FSWatcher | undefined
  try {
    watcher = watch(dirname(file), { persistent: false }, () => {
      clearTimeout(timer)
      timer = setTimeout(onChange, debounceMs)
    })
    watcher.on('error', () => watcher?.close())
  } catch {
    // No inotify (or the directory vanished): SIGHUP still reloads.
  }
  return () => {
    clearTimeout(timer)
    watcher?.close()
  }
}
