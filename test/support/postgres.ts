// The shared PostgreSQL the tests use (TESSERA_TEST_DATABASE_URL, documented in
// the README's test section). Each test works in a schema of its own.

/** The test database; tests create and drop their own schemas in it, never touch `public`. */
export const SHARED_DATABASE_URL = process.env.TESSERA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
