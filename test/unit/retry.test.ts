/** nextStep: the retry and failover policy, case by case (method × body × failure × attempt × route). */
import t from 'tap'
import { nextStep, type FailedAttempt } from '../../src/proxy/retry.js'

const base: FailedAttempt = { method: 'GET', hasBody: false, beforeSend: true, attempt: 0, backend: 'django', baseline: 'legacy', failover: true, failedOver: false }

const cases: Array<[string, Partial<FailedAttempt>, string]> = [
  ['GET to the flag backend, not connected: fail over to the baseline', {}, 'failover legacy'],
  ['GET to the baseline itself, first attempt: retry once', { backend: 'legacy' }, 'retry'],
  ['GET to the baseline, second attempt: fail', { backend: 'legacy', attempt: 1 }, 'fail'],
  ['after a failover the baseline fails too: fail, no second failover or retry', { backend: 'legacy', attempt: 1, failedOver: true }, 'fail'],
  ['failover: false on the route: retry the same backend once', { failover: false }, 'retry'],
  ['failover: false, second attempt: fail', { failover: false, attempt: 1 }, 'fail'],
  ['the request reached the backend (reset after sending): never replayed', { beforeSend: false }, 'fail'],
  ['a body: never replayed', { hasBody: true }, 'fail'],
  ['POST: never replayed', { method: 'POST' }, 'fail'],
  ['PATCH: never replayed', { method: 'PATCH' }, 'fail'],
  ['HEAD, OPTIONS, TRACE, PUT and DELETE may be replayed', { method: 'HEAD', backend: 'legacy' }, 'retry'],
  ['OPTIONS', { method: 'OPTIONS', backend: 'legacy' }, 'retry'],
  ['TRACE', { method: 'TRACE', backend: 'legacy' }, 'retry'],
  ['PUT', { method: 'PUT', backend: 'legacy' }, 'retry'],
  ['DELETE', { method: 'DELETE', backend: 'legacy' }, 'retry'],
  ['an unknown method is not', { method: 'PURGE', backend: 'legacy' }, 'fail']
]

for (const [name, change, want] of cases) {
  t.test(name, async (t) => {
    const step = nextStep({ ...base, ...change })
    t.equal(step.kind === 'failover' ? `failover ${step.to}` : step.kind, want)
  })
}

t.test('never more than one extra attempt, whatever keeps failing', async (t) => {
  for (const failover of [true, false]) {
    let attempt = 0
    let backend = 'django'
    let failedOver = false
    for (;;) {
      const step = nextStep({ ...base, failover, attempt, backend, failedOver })
      if (step.kind === 'fail') break
      if (step.kind === 'failover') { backend = step.to; failedOver = true }
      attempt++
    }
    t.equal(attempt, 1, `failover ${String(failover)}: ${attempt + 1} attempts in all`)
  }
})
