/**
 * What the benchmarks read about a process, from /proc (Linux): CPU seconds and
 * resident memory of a process and its live children (cluster workers), and when a
 * target answers.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { request } from 'undici'

const TICKS = 100 // USER_HZ on Linux

export async function waitUp (url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await request(url)
      await r.body.dump()
      return
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  throw new Error(`${url} did not come up`)
}

function statFields (pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** The process and its live children (cluster workers), from /proc. */
function tree (pid: number): number[] {
  const kids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => {
    try {
      return Number(statFields(p)[1]) === pid
    } catch {
      return false
    }
  })
  return [pid, ...kids.flatMap(tree)]
}

/** CPU seconds (user + system) of a process and its children, from /proc. */
export function cpuSeconds (pid: number): number {
  let total = 0
  for (const p of tree(pid)) {
    const f = statFields(p)
    total += (Number(f[11]) + Number(f[12])) / TICKS
  }
  return total
}

export function rssMiB (pid: number): number {
  let total = 0
  for (const p of tree(pid)) total += Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) / 1024
  return total
}
