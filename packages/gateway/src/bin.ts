#!/usr/bin/env node
// `tessera-gateway`: the forward-auth gateway on its own, for machines that run
// no auth server (same command as `tessera gateway`).
import { gatewayCommand } from './command.js'

const command = gatewayCommand('tessera-gateway').exitOverride((err) => {
  process.exit(err.exitCode === 0 ? 0 : 2)
})
await command.parseAsync(process.argv)
