import { createRequire } from 'node:module'
import { expect, test } from 'vitest'
import { definePlugin } from '../../src/core/plugin-api.js'
import { startBroker } from '../helpers/broker.js'
import { freePort } from '../helpers/free-port.js'

const memoryStore = createRequire(import.meta.url)('aedes-persistence') as () => object

test('the HTTP listener answers GET and HEAD; another method gets 405 with Allow, an unknown path 404', async () => {
  const broker = await startBroker({ listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }, { type: 'http', host: '127.0.0.1', port: 0 }] })
  const http = broker.addresses().find((a) => a.type === 'http')?.url ?? ''
  expect((await fetch(`${http}/health`, { method: 'HEAD' })).status).toBe(200)
  const post = await fetch(`${http}/health`, { method: 'POST' })
  expect(post.status).toBe(405)
  expect(post.headers.get('allow')).toBe('GET, HEAD')
  expect((await fetch(`${http}/nowhere`)).status).toBe(404)
})

test('while the store loads, /health already answers 200 and /ready 503; /ready is 200 once the broker is up', async () => {
  let release = (): void => {}
  const loaded = new Promise<void>((resolve) => { release = resolve })
  let building = (): void => {}
  const atStore = new Promise<void>((resolve) => { building = resolve })
  const slowStore = definePlugin({
    name: 'slow-store',
    register (broker) {
      broker.usePersistence(async () => {
        building()
        await loaded
        return memoryStore()
      }, { durable: false })
    },
  })
  const port = await freePort()
  const starting = startBroker({ listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }, { type: 'http', host: '127.0.0.1', port }] }, { omitBuiltins: ['persistent-sessions'], plugins: [slowStore] })
  await atStore
  const http = `http://127.0.0.1:${port}`
  expect((await fetch(`${http}/health`)).status).toBe(200)
  expect((await fetch(`${http}/ready`)).status).toBe(503)
  release()
  const broker = await starting
  expect((await fetch(`${http}/ready`)).status).toBe(200)
  expect(broker.addresses().map((a) => a.type)).toEqual(['mqtt', 'http'])
})
