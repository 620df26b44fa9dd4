const MAX_EMAIL_LENGTH = 254
// Deliberately loose: one @, a non-empty local part, a dotted domain, no spaces.
// Whether a mailbox exists is settled by the verification mail, not by a regex.
const EMAIL_PATTERN = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/

/**
 * Normalises an email for storage and lookup: Unicode NFC, trimmed, lower case.
 * Returns null when the text is not a plausible address.
 *
 * @example
 * ```ts
 * normaliseEmail('  Ada@Example.COM ') // 'ada@example.com'
 * ```
 */
export function normaliseEmail(input: unknown): string | null {
  if (typeof input !== 'string') return null
  const email = input.normalize('NFC').trim().toLowerCase()
  // Control characters (NUL above all: PostgreSQL refuses it in text) are never part of an address.
  if (/\p{Cc}/u.test(email)) return null
  if (email.length === 0 || email.length > MAX_EMAIL_LENGTH || !EMAIL_PATTERN.test(email)) return null
  return email
}
