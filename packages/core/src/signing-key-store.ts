/**
 * The part of the store port that holds the fleet's signing key set: one
 * opaque, versioned document (sealed by `sealed-signing-keys.ts`), replaced
 * only by compare-and-set so two instances rotating at once cannot lose a key.
 * Stores never look inside the document.
 */
export interface SigningKeyStore {
  /** The stored key set, or null when none was written yet. */
  readSigningKeys(): Promise<StoredSigningKeys | null>
  /** Version of the stored key set (0 when none): a cheap poll. */
  signingKeysVersion(): Promise<number>
  /**
   * Writes `document` as version `expectedVersion + 1` if the stored version
   * is still `expectedVersion` (0: nothing stored yet); otherwise writes
   * nothing and returns what is stored.
   */
  writeSigningKeys(request: WriteSigningKeysRequest): Promise<WriteSigningKeysResult>
}

/** A key set as stored. */
export interface StoredSigningKeys {
  /** 1 for the first write, +1 on every write after. */
  version: number
  document: string
}

export interface WriteSigningKeysRequest {
  expectedVersion: number
  document: string
}

export type WriteSigningKeysResult =
  | { written: true; version: number }
  /** Someone else wrote first: `current` is what they wrote. */
  | { written: false; current: StoredSigningKeys | null }
