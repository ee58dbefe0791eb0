import { expect, test } from 'vitest'
import { startBroker } from '../helpers/broker.js'

test('the HTTP listener answers GET and HEAD; another method gets 405 with Allow, an unknown path 404', async () => {
  const broker = await startBroker({ listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }, { type: 'http', host: '127.0.0.1', port: 0 }] })
  const http = broker.addresses().find((a) => a.type === 'http')?.url ?? ''
  expect((await fetch(`${http}/health`, { method: 'HEAD' })).status).toBe(200)
  const post = await fetch(`${http}/health`, { method: 'POST' })
  expect(post.status).toBe(405)
  expect(post.headers.get('allow')).toBe('GET, HEAD')
  expect((await fetch(`${http}/nowhere`)).status).toBe(404)
})
