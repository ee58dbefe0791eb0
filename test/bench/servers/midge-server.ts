/**
 * midge through its embedding API, for the bench runner.
 *
 *   node midge-server.js [--host 127.0.0.1] [--port 0] [--store memory|nedb]
 *                        [--data-dir dir] [--config-json '{"sessions":{...}}']
 *                        [--omit priority-delivery,sys]
 *
 * Everything not given here is midge's default as a user gets it (sys.interval
 * 10 included), except one loopback listener and silent logs. `--config-json`
 * is merged (objects deeply, arrays replaced) over that; `--omit` is
 * `createBroker(config, { omitBuiltins })`, for plugin on/off comparisons.
 */
import { createBroker } from '../../../src/index.js'
import type { BrokerConfigInput, BuiltinPluginName } from '../../../src/index.js'
import { mergeJson, parseJsonObject } from '../lib/json.js'
import { argValue, serveControl } from './control.js'

const BUILTINS: readonly BuiltinPluginName[] = ['security', 'persistent-sessions', 'priority-delivery', 'sys']

const host = argValue('host') ?? '127.0.0.1'
const port = Number(argValue('port') ?? '0')
const store = argValue('store') ?? 'memory'
const dataDir = argValue('data-dir')
const extra = parseJsonObject(argValue('config-json'), '--config-json')
const omit = parseOmit(argValue('omit'))

const config = mergeJson({
  listeners: [{ type: 'mqtt', host, port }],
  sessions: { store },
  ...(dataDir !== undefined ? { dataDir } : {}),
  logLevel: 'silent',
}, extra)

// The config is validated by createBroker; a bad --config-json fails there with the path named.
const broker = await createBroker(config as BrokerConfigInput, { omitBuiltins: omit })
const mqtt = broker.addresses().find((a) => a.type === 'mqtt')
if (mqtt === undefined) throw new Error('no mqtt listener in the config')

const { sessions, sys, mqtt: mqttSection, limits } = broker.config
serveControl({
  port: mqtt.port,
  close: () => broker.close(),
  info: {
    omitBuiltins: omit,
    store: sessions.store,
    maxQueued: sessions.maxQueued,
    sysInterval: sys.interval,
    maxInflight: mqttSection.maxInflight,
    drainTimeoutMs: limits.drainTimeoutMs,
    ...(store === 'nedb' ? { dataDir: broker.config.dataDir } : {}),
  },
})

function parseOmit (list: string | undefined): BuiltinPluginName[] {
  const names = (list ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
  const unknown = names.filter((n) => !(BUILTINS as readonly string[]).includes(n))
  if (unknown.length > 0) throw new Error(`--omit: unknown built-in plugin(s) ${unknown.join(', ')} (known: ${BUILTINS.join(', ')})`)
  return names as BuiltinPluginName[]
}
