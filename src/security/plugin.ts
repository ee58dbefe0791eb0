import { definePlugin } from '../core/plugin-api.js'

/** Passwords, ACLs and limits. */
export const securityPlugin = definePlugin<void>({
  name: 'security',
  register () {},
})
