import { isIP } from 'node:net'
import { stripVTControlCharacters } from 'node:util'
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import { InvalidInput } from './errors.js'

/** What a session records about the device that signed in. */
export interface DeviceInfo {
  /** Raw User-Agent header; longer ones are cut to 512 characters. */
  userAgent?: string
  /** Client address, IPv4 or IPv6. */
  ip?: string
  /**
   * A name the user gave the device ("Work laptop"); longer ones are cut to
   * 64 characters, as a long user agent is cut (one rule: device details are
   * cut to fit, never a reason to refuse a sign-in). Control characters and
   * bidi overrides are removed when stored.
   */
  name?: string
  /** Class used for per-class session limits (`mobile`, `desktop`, ...): 1-8 of a-z, 0-9, -. */
  deviceClass?: string
}

const MAX_USER_AGENT = 512
const MAX_NAME = 64
const CLASS_PATTERN = /^[a-z0-9-]{1,8}$/
const FORMAT_VERSION = 1
/** Each variable field carries a one-byte length. */
const MAX_FIELD_BYTES = 255

/**
 * C0/C1 controls (after whole escape sequences), and the bidi embeddings,
 * overrides, isolates and marks that reorder what a terminal or page shows.
 */
const UNPRINTABLE = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu

/**
 * Text without terminal escape sequences, control characters or bidi
 * controls: safe to print on an operator's terminal or a page. Device names
 * and user agents are stored this way; printers apply it again, since older
 * sessions were stored raw.
 *
 * @example
 * ```ts
 * printable('laptop\u001b[2J') // 'laptop'
 * ```
 */
export function printable(text: string): string {
  return stripVTControlCharacters(text).replace(UNPRINTABLE, '')
}

/** The longest prefix of `text` that fits `maxBytes` of UTF-8, cut between characters. */
function utf8Prefix(text: string, maxBytes: number): Buffer {
  const bytes = Buffer.from(text, 'utf8')
  if (bytes.length <= maxBytes) return bytes
  let end = maxBytes
  // Back up over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--
  return bytes.subarray(0, end)
}

/**
 * Typical user agents repeat the same fragments, so a preset dictionary lets
 * deflate store a 110-character UA in about 15 bytes. That keeps a session's
 * metadata under Redis's listpack value limit (64 bytes) and the per-session
 * memory low. Never edit this text: stored metadata depends on it. Add a new
 * FORMAT_VERSION with a new dictionary instead.
 */
const USER_AGENT_DICTIONARY = Buffer.from(
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) (Macintosh; Intel Mac OS X 10_15_7) (X11; Linux x86_64) ' +
    '(iPhone; CPU iPhone OS 17_0 like Mac OS X) (iPad; CPU OS 17_0 like Mac OS X) (Linux; Android 14; Pixel 8) ' +
    'AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 Version/17.0 Mobile/15E148 ' +
    'Safari/605.1.15 Safari/604.1 Edg/120.0.0.0 OPR/105.0.0.0 Firefox/121.0 Gecko/20100101 rv:121.0 curl/8.0 okhttp/4.12.0',
)

/** Validates device input and returns it normalised. */
export function normaliseDevice(device: DeviceInfo | undefined): Required<DeviceInfo> {
  const userAgent = device?.userAgent ?? ''
  const ip = device?.ip ?? ''
  const name = device?.name ?? ''
  const deviceClass = device?.deviceClass ?? 'default'
  if (typeof userAgent !== 'string') throw new InvalidInput('device.userAgent must be a string')
  if (typeof ip !== 'string' || (ip !== '' && isIP(ip) === 0)) throw new InvalidInput('device.ip must be an IPv4 or IPv6 address')
  if (typeof name !== 'string') throw new InvalidInput('device.name must be a string')
  if (typeof deviceClass !== 'string' || !CLASS_PATTERN.test(deviceClass)) {
    throw new InvalidInput('device.deviceClass must be 1-8 characters of a-z, 0-9 and -')
  }
  // A zone id (fe80::1%eth0) means nothing off this host and has no length limit: dropped.
  // The name is cut by characters (code points), never inside a surrogate pair.
  return { userAgent: printable(userAgent).slice(0, MAX_USER_AGENT), ip: ip.replace(/%.*$/s, ''), name: [...printable(name)].slice(0, MAX_NAME).join(''), deviceClass }
}

function packIp(ip: string): Buffer {
  if (ip === '') return Buffer.from([0])
  if (isIP(ip) === 4) return Buffer.from([4, ...ip.split('.').map(Number)])
  // An IPv6 text is at most 45 bytes; the cap guards callers that skip normaliseDevice (zone ids).
  const text = utf8Prefix(ip.replace(/%.*$/s, ''), MAX_FIELD_BYTES)
  return Buffer.concat([Buffer.from([6, text.length]), text])
}

/**
 * Packs device metadata into the compact bytes the store keeps:
 * version, ip, name, then the user agent (deflated when that is shorter).
 */
export function encodeDeviceMetadata(device: Required<DeviceInfo>): Buffer {
  // 64 characters of 4-byte UTF-8 are 256 bytes: cut by bytes, or the length byte wraps and corrupts the record.
  const name = utf8Prefix(device.name, MAX_FIELD_BYTES)
  const rawAgent = Buffer.from(device.userAgent, 'utf8')
  const deflated = rawAgent.length > 0 ? deflateRawSync(rawAgent, { dictionary: USER_AGENT_DICTIONARY, level: 9 }) : rawAgent
  const compressed = deflated.length < rawAgent.length
  return Buffer.concat([
    Buffer.from([FORMAT_VERSION]),
    packIp(device.ip),
    Buffer.from([name.length]),
    name,
    Buffer.from([compressed ? 1 : 0]),
    compressed ? deflated : rawAgent,
  ])
}

/** Reverses {@link encodeDeviceMetadata}; unreadable bytes give empty fields rather than an error. */
export function decodeDeviceMetadata(bytes: Buffer, deviceClass: string): Required<DeviceInfo> {
  const empty = { userAgent: '', ip: '', name: '', deviceClass }
  try {
    if (bytes[0] !== FORMAT_VERSION) return empty
    let at = 1
    let ip = ''
    const ipKind = bytes[at++]
    if (ipKind !== 0 && ipKind !== 4 && ipKind !== 6) return empty
    if (ipKind === 4) {
      ip = [...bytes.subarray(at, at + 4)].join('.')
      at += 4
    } else if (ipKind === 6) {
      const length = bytes[at++]!
      ip = bytes.subarray(at, at + length).toString('utf8')
      at += length
    }
    const nameLength = bytes[at++]!
    if (at + nameLength >= bytes.length + 1 || bytes[at + nameLength] === undefined) return empty
    const name = bytes.subarray(at, at + nameLength).toString('utf8')
    at += nameLength
    const compressed = bytes[at++] === 1
    const agentBytes = bytes.subarray(at)
    const userAgent = (compressed ? inflateRawSync(agentBytes, { dictionary: USER_AGENT_DICTIONARY }) : agentBytes).toString('utf8')
    return { userAgent, ip, name, deviceClass }
  } catch {
    return empty
  }
}
