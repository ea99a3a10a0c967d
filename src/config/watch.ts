/**
 * Calls back when a config file may have changed. Watches the directory, not the
 * file: editors replace files by rename and Kubernetes ConfigMaps swap a `..data`
 * symlink, both of which a watch on the file itself would miss. Only events naming
 * the file (or `..data`) count, so logs or other files written beside it never
 * trigger a reload. A burst of events is folded into one call at most `debounceMs`
 * after its first event: continuous writes cannot postpone it.
 */
import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'

/** The symlink Kubernetes swaps atomically when a mounted ConfigMap changes. */
const CONFIGMAP_SWAP = '..data'

export function watchConfigFile (file: string, onChange: () => void, debounceMs = 150): () => void {
  const name = basename(file)
  let timer: NodeJS.Timeout | undefined
  let watcher: FSWatcher | undefined
  const fire = (): void => {
    timer = undefined
    onChange()
  }
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      // Some platforms do not name the file; then every event counts.
      if (changed !== null && changed !== name && changed !== CONFIGMAP_SWAP) return
      timer ??= setTimeout(fire, debounceMs)
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
