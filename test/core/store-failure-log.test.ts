import { expect, test } from 'vitest'
import { definePlugin } from '../../src/core/plugin-api.js'
import { startBroker } from '../helpers/broker.js'
import { connectClient } from '../helpers/clients.js'
import { captureLog } from '../helpers/log-capture.js'
import { wrapStoreMethod } from '../helpers/store-method.js'

/** With the disk full, every reconnect of the fleet logged a warn line with a stack (found by an outside probe). */
test('a store that fails while persistent sessions connect is one line a minute, with the reason and the count, no stack', async () => {
  const full = definePlugin({
    name: 'full-disk',
    register (broker) {
      broker.decoratePersistence(wrapStoreMethod('addSubscriptions', () => async () => {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
      }))
    },
  })
  const capture = captureLog()
  const broker = await startBroker({ sessions: { store: 'memory' } }, { plugins: [full], logger: capture.log })
  for (let i = 0; i < 3; i++) {
    const device = await connectClient(broker.mqttUrl, { clientId: `full-${i}`, clean: false })
    await device.endAsync()
  }
  const line = await capture.waitFor('could not mark the session')
  expect(line).toMatchObject({ level: 40, reason: 'ENOSPC', clientId: 'full-0', sinceLastLine: 0 })
  expect(line.err).toBeUndefined()
  // every client was ready (its marking had failed) before the last one left
  expect(capture.lines.filter((l) => l.msg === line.msg)).toHaveLength(1)
})
