import { chmod, lstat, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

/** A directory that holds secrets (token key, signing keys, the user database) and that group or others can write. */
export class UnsafeDirectory extends Error {
  constructor(readonly path: string, readonly mode: number) {
    super(`${path} is writable by group or others (mode ${(mode & 0o777).toString(8).padStart(3, '0')}): anyone who can write there can replace keys or the user database; run \`chmod 700 ${path}\``)
    this.name = 'UnsafeDirectory'
  }
}

/**
 * Refuses a directory that group or others can write, as ssh refuses a
 * loose ~/.ssh. A directory that does not exist yet is fine (it is created
 * 0700). Not fixed silently: a loosened mode is a sign to look at, and the
 * operator may share the directory on purpose.
 */
export async function assertPrivateDirectory(path: string): Promise<void> {
  let mode: number
  try {
    mode = (await stat(path)).mode
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  if ((mode & 0o022) !== 0) throw new UnsafeDirectory(path, mode)
}

/**
 * Makes every file under `dir` owner-only (files 0600, directories 0700).
 * The embedded database (PGlite, through Emscripten's file system) creates its
 * files 0666 whatever the umask, so it is tightened after it opens.
 * Symbolic links are left alone (chmod would follow them out of the tree).
 */
export async function tightenTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      await chmod(path, 0o700)
      await tightenTree(path)
    } else if (entry.isFile()) {
      if (((await lstat(path)).mode & 0o077) !== 0) await chmod(path, 0o600)
    }
  }
}
