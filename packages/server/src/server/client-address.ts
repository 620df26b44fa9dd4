import { isIP } from 'node:net'
import type { FastifyRequest } from 'fastify'
import ipaddr from 'ipaddr.js'

/**
 * Whose `X-Forwarded-*` the server follows: `false` (the socket's peer is the
 * client) or the addresses/CIDRs of our proxies. Fastify (proxy-addr) walks the
 * hops and matches the addresses; we never do. Never "every hop", never a bare
 * hop count: neither can tell our proxy from a client that writes the header.
 */
export type TrustProxy = false | readonly string[]

/** The longest text form of an IPv6 address (IPv4-mapped, uncompressed). */
const MAX_ADDRESS_LENGTH = 45

/** A usable address, or null: zone ids (meaningless off this host, and unbounded) are dropped. */
function validAddress(text: string | undefined): string | null {
  if (typeof text !== 'string') return null
  const address = text.replace(/%.*$/s, '')
  if (address.length > MAX_ADDRESS_LENGTH || isIP(address) === 0) return null
  return address
}

/**
 * The client's address as the server records and limits it. A forwarded value
 * that is not an address (`unknown`, a host name, garbage) counts as absent:
 * the peer's own address stands in, so the answer never depends on what the
 * client wrote there.
 */
export function clientAddress(request: FastifyRequest): string {
  return validAddress(request.ip) ?? validAddress(request.socket?.remoteAddress) ?? ''
}

/**
 * The rate-limit bucket of an address: IPv4 as is, IPv6 per /64 (one customer
 * usually gets a whole /64, so per-address buckets would give them 2^64 tries).
 * IPv4-mapped IPv6 counts as the IPv4 address.
 */
export function rateLimitBucket(address: string): string {
  if (!ipaddr.isValid(address)) return 'unknown'
  const parsed = ipaddr.process(address)
  if (parsed.kind() === 'ipv4') return parsed.toString()
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16))
  return `${parts.join(':')}::/64`
}

/** {@link rateLimitBucket} of the request's {@link clientAddress}. */
export function clientBucket(request: FastifyRequest): string {
  return rateLimitBucket(clientAddress(request))
}
