// What a test needs to show that a process lets no secret out at its HTTP edge:
// raw requests a client library would refuse to send, and log lines with their
// byte fields turned back into text so a plain search finds a token in them.
import { connect } from 'node:net'

/**
 * A log line with every byte field spelled out as text: pino writes a Buffer as
 * `{"type":"Buffer","data":[71,69,...]}` and a Uint8Array as an array of numbers,
 * which a plain text search would miss. Kept beside the raw line.
 */
export function decodeBytes(line: string): string {
  const texts: string[] = [line]
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      if (value.length > 0 && value.every((n) => Number.isInteger(n) && n >= 0 && n <= 255)) texts.push(Buffer.from(value as number[]).toString('latin1'))
      else value.forEach(visit)
    } else if (value && typeof value === 'object') {
      Object.values(value).forEach(visit)
    }
  }
  try {
    visit(JSON.parse(line))
  } catch {
    // Not JSON: the raw line is searched as it is.
  }
  return texts.join('\n')
}

/** Sends bytes on a fresh connection; resolves with what came back when the server closes it. */
export function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = ''
    const socket = connect(port, '127.0.0.1', () => socket.end(bytes))
    socket.setEncoding('latin1').on('data', (d: string) => (answer += d))
    socket.once('close', () => resolve(answer))
    socket.once('error', reject)
  })
}
