/** The little of a SQL client the user store needs; node-postgres and PGlite both fit it. */
export interface SqlDatabase {
  query<Row = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: Row[] }>
  /** Runs `work` in one transaction on one connection. */
  transaction<T>(work: (query: SqlDatabase['query']) => Promise<T>): Promise<T>
  close(): Promise<void>
}
