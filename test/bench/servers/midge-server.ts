/**
 * midge through its embedding API, for the bench runner.
 *
 *   node midge-server.js [--host 127.0.0.1] [--port 0] [--store memory|nedb]
 *                        [--data-dir dir] [--config-json '{"sessions":{...}}']
 *
 * `--config-json` is merged (objects deeply, arrays replaced) over the bench
 * defaults, so variants such as plugins on/off need no code change here.
 */
import { createBroker } from '../../../src/index.js'
import type { BrokerConfigInput } from '../../../src/index.js'
import { mergeJson, parseJsonObject } from '../lib/json.js'
import { argValue, serveControl } from './control.js'

const host = argValue('host') ?? '127.0.0.1'
const port = Number(argValue('port') ?? '0')
const store = argValue('store') ?? 'memory'
const dataDir = argValue('data-dir')
const extra = parseJsonObject(argValue('config-json'), '--config-json')

const config = mergeJson({
  listeners: [{ type: 'mqtt', host, port }],
  sessions: { store },
  ...(dataDir !== undefined ? { dataDir } : {}),
  logLevel: 'silent',
  sys: { interval: 0 },
}, extra)

// The config is validated by createBroker; a bad --config-json fails there with the path named.
const broker = await createBroker(config as BrokerConfigInput)
const mqtt = broker.addresses().find((a) => a.type === 'mqtt')
if (mqtt === undefined) throw new Error('no mqtt listener in the config')

serveControl({ port: mqtt.port, close: () => broker.close() })
