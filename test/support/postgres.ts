// The shared PostgreSQL the tests use (TESSERA_TEST_DATABASE_URL, documented in
// the README's test section). Each test works in a schema of its own.

/** The test database; tests create and drop their own schemas in it, never touch `public`. */
export const SHARED_DATABASE_URL = process.env.TESSERA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/**
 * Connect time limit of a user store a test opens as a fixture (not the store under test): other suites'
 * processes can keep the database waiting past the product's 2 s default on a busy machine (the CLI suite
 * failed so at load 10-13), and a fixture that gives up proves nothing about the product.
 */
export const FIXTURE_CONNECT_TIMEOUT_MS = 15_000
