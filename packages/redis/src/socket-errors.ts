import tls from 'node:tls'

/**
 * Marks the socket options of Tessera's own Redis clients. node-redis copies
 * its socket options (symbol keys included) into every `tls.connect` call,
 * first connection and reconnects alike.
 */
export const GUARDED_SOCKET = Symbol.for('tessera.redis.guarded-socket')

let installed = false

/** `socket` options with the {@link GUARDED_SOCKET} mark (node-redis's option types know no symbol keys). */
export function guardedSocket<T extends object>(socket: T): T {
  return { ...socket, [GUARDED_SOCKET]: true }
}

/**
 * Gives every TLS socket of a marked client an 'error' listener for its whole
 * life. node-redis (5.x, 6.x) listens with `once('error')`, but a TLS socket
 * can emit two: a server that refuses the client certificate sends its alert
 * after the client's handshake is done (TLS 1.3), which Node reports without
 * destroying the socket, and the reset that follows is a second 'error'
 * nobody listens to, which crashes the process. node-redis still gets the
 * first error (its listener runs too) and learns of the end from 'close', so
 * the client fails cleanly (`ERR_STORE_UNAVAILABLE` at connect, reconnects
 * later); the echo is dropped here. node-redis offers no hook on socket
 * creation, hence the wrapper; sockets of anyone else pass through untouched.
 */
export function guardTlsSockets(): void {
  if (installed) return
  installed = true
  const connect = tls.connect
  const guarded = function (this: unknown, ...args: unknown[]) {
    const socket = (connect as (...a: unknown[]) => tls.TLSSocket).apply(this, args)
    const options = args.find((a): a is Record<PropertyKey, unknown> => typeof a === 'object' && a !== null)
    if (options?.[GUARDED_SOCKET] === true) socket.on('error', () => {})
    return socket
  }
  tls.connect = guarded
}
