import { definePlugin } from '../core/plugin-api.js'

/** `$SYS/broker/...` topics, Prometheus `/metrics`. */
export const sysPlugin = definePlugin<void>({
  name: 'sys',
  register () {},
})
