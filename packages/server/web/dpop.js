// DPoP (RFC 9449) for the account page: this browser's session is bound to a
// key pair that never leaves it, so the refresh cookie alone, copied into
// another browser, refreshes nothing (the server refuses it and ends the
// session as stolen).
//
// The key: ECDSA P-256, generated once with `extractable: false` and kept in
// IndexedDB (which stores the CryptoKey itself, not its bytes), so no script,
// not even this one, can read the private key out. Every tab of this origin
// signs with the same key. Proofs go on sign-in, on refresh and, with the
// access token's hash (`ath`), on every API call made with a bound token.
//
// Fallback: without WebCrypto or IndexedDB (an old browser, some private
// modes, a page not served from a secure context) there is no key, no proof
// is sent, and the session stays a bearer session as before.

const DB_NAME = 'tessera-dpop'
const DB_STORE = 'keys'
const KEY_RECORD = 'session-key'
const LOCK_NAME = 'tessera-dpop-key'
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' }
/** The server accepts a proof's `iat` up to 60 s old and 5 s ahead; beyond 5 s of drift we follow the server's clock. */
const CLOCK_DRIFT_MS = 5_000

/** @type {Promise<{ privateKey: CryptoKey, jwk: JsonWebKey } | null> | null} */
let keyLoading = null
/** The latest `DPoP-Nonce` the server handed out (RFC 9449 section 8), or null when it asks for none. */
let nonce = null
/** Server time minus this browser's time, when they differ by more than {@link CLOCK_DRIFT_MS}. */
let clockOffsetMs = 0

const base64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
const encodeJson = (value) => base64url(new TextEncoder().encode(JSON.stringify(value)))

function openDatabase() {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB_NAME, 1)
    open.onupgradeneeded = () => open.result.createObjectStore(DB_STORE)
    open.onsuccess = () => resolve(open.result)
    open.onerror = () => reject(open.error)
    open.onblocked = () => reject(new Error('the key database is blocked'))
  })
}

function storeRequest(db, mode, run) {
  return new Promise((resolve, reject) => {
    const request = run(db.transaction(DB_STORE, mode).objectStore(DB_STORE))
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })
}

/** This browser's key pair: read from IndexedDB, or made and stored the first time. */
async function loadOrCreateKey() {
  if (!globalThis.crypto?.subtle || !globalThis.indexedDB) return null
  const db = await openDatabase()
  try {
    const take = async () => {
      let pair = await storeRequest(db, 'readonly', (s) => s.get(KEY_RECORD))
      if (!pair) {
        // Non-extractable: the private key can sign here and nowhere else. The public half is always exportable.
        pair = await crypto.subtle.generateKey(ALGORITHM, false, ['sign', 'verify'])
        await storeRequest(db, 'readwrite', (s) => s.put(pair, KEY_RECORD))
      }
      return pair
    }
    // Two tabs opening at once must not each make a key: the second would bind nothing the first can use.
    const pair = navigator.locks ? await navigator.locks.request(LOCK_NAME, take) : await take()
    const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey)
    return { privateKey: pair.privateKey, jwk: { kty, crv, x, y } }
  } finally {
    db.close()
  }
}

/** The key, loaded once per page; null when this browser cannot keep one (the page then stays on bearer tokens). */
function dpopKey() {
  keyLoading ??= loadOrCreateKey().catch(() => null)
  return keyLoading
}

/** Starts loading the key early, so the first sign-in does not wait for it. */
export function prepareDpopKey() {
  void dpopKey()
}

/**
 * A fresh proof for one request (a new `jti` each time), or null without a key.
 * `accessToken` adds its hash (`ath`) for calls to protected routes.
 */
export async function dpopProof(method, url, accessToken) {
  const key = await dpopKey()
  if (!key) return null
  const target = new URL(url, location.href)
  const payload = {
    jti: crypto.randomUUID(),
    htm: method,
    // RFC 9449 section 4.2: the URL without query and fragment.
    htu: `${target.origin}${target.pathname}`,
    iat: Math.floor((Date.now() + clockOffsetMs) / 1000),
  }
  if (accessToken) payload.ath = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken)))
  if (nonce) payload.nonce = nonce
  const input = `${encodeJson({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk })}.${encodeJson(payload)}`
  // WebCrypto's ECDSA signature is r || s, which is exactly the JWS ES256 form.
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, new TextEncoder().encode(input))
  return `${input}.${base64url(signature)}`
}

/**
 * Learns from a response: its `DPoP-Nonce`, and the server's clock from `Date`.
 * Returns true when a refused proof is worth one retry with what was learned.
 */
export function dpopLearn(res, problemCode) {
  const offered = res.headers.get('dpop-nonce')
  const nonceChanged = offered !== null && offered !== nonce
  if (offered !== null) nonce = offered
  let clockChanged = false
  const serverMs = Date.parse(res.headers.get('date') ?? '')
  if (Number.isFinite(serverMs)) {
    const offset = Math.abs(serverMs - Date.now()) > CLOCK_DRIFT_MS ? serverMs - Date.now() : 0
    clockChanged = Math.abs(offset - clockOffsetMs) > CLOCK_DRIFT_MS
    clockOffsetMs = offset
  }
  // The server wants a nonce (400 at sign-in and refresh, 401 with use_dpop_nonce elsewhere), or our clock was off.
  const wantsNonce = problemCode === 'ERR_DPOP_NONCE_REQUIRED' || /error="use_dpop_nonce"/.test(res.headers.get('www-authenticate') ?? '')
  return (wantsNonce && nonceChanged) || (problemCode === 'ERR_DPOP_PROOF_INVALID' && clockChanged)
}
