// Types of prerequisites.mjs, for the tests that import it.
export interface Program {
  name: string
  command: string
  debianPackage: string
  neededBy: RegExp
  pathVariable?: string
}
export type Plan = { action: 'none' } | { action: 'install'; command: string } | { action: 'fail'; message: string }
export function programs(env?: NodeJS.ProcessEnv): Program[]
export function isExecutable(command: string, env?: NodeJS.ProcessEnv): boolean
export function missingPrograms(files: string[], options?: { env?: NodeJS.ProcessEnv; executable?: (command: string, env: NodeJS.ProcessEnv) => boolean }): Program[]
export function aptCommand(packages: string[], options: { root: boolean }): string
export function planFor(missing: Program[], options: { root: boolean; hasApt: boolean }): Plan
export function answers(host: string, port: number, timeoutMs?: number): Promise<boolean>
export function redisService(env?: NodeJS.ProcessEnv): { name: string; host: string; port: number; start: string }
export interface PostgresCluster {
  version: string
  name: string
  port: number
}
export function debianClusters(root?: string): PostgresCluster[]
export function postgresAdvice(url: URL, err: { code?: string; message?: string }, machine: { root: boolean; hasApt: boolean; clusters: PostgresCluster[] }): string
export function tryPostgres(url: string, timeoutMs?: number): Promise<{ code?: string; message?: string } | null>
export function servicesProblem(env?: NodeJS.ProcessEnv): Promise<string | null>
export function ensurePrerequisites(files: string[], env?: NodeJS.ProcessEnv, options?: { services?: boolean }): Promise<string | null>
