#!/usr/bin/env node
// minidocker-proxy -proto tcp|udp -host-ip IP -host-port N -container-ip IP -container-port N: one published port.
require('./start.cjs').start('minidocker-proxy', 'minidocker/proxy.ts')
