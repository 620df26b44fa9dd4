import { printable } from '@tessera/core'
import type { Mailer } from '../../mail/mailer.js'
import type { UserStore } from '../../users/user-store.js'
import type { SecurityEvent } from './security-events.js'

/** Which security mails the server sends to the user. */
export interface SecurityMailOptions {
  /**
   * "New sign-in" when a sign-in comes from a device (user agent) none of the user's other live sessions
   * uses, and there is at least one (a first sign-in, right after registering, sends nothing).
   */
  newDevice: boolean
  /** "Your password was changed" after a change or a reset. */
  passwordChanged: boolean
}

function describeDevice(device: { userAgent?: string; ip?: string; name?: string } | null | undefined): string {
  // printable(): a request's user agent reaches here raw (stored devices are already cleaned).
  const parts = [device?.name ? `"${printable(device.name)}"` : '', printable(device?.userAgent ?? '') || 'an unknown browser', device?.ip ? `from ${device.ip}` : '']
  return parts.filter(Boolean).join(', ')
}

/**
 * The mail for one security event, or null when none is due. Plain text,
 * with the device and the time, linking to the account page where the user
 * can end sessions.
 */
export function securityMailFor(event: SecurityEvent, options: SecurityMailOptions, publicUrl: string): { subject: string; text: string } | null {
  const when = event.timestamp.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')
  const account = `${publicUrl}/account`
  if (event.type === 'session.signed_in' && options.newDevice && event.data.newDevice === true && event.data.otherSessions !== 0) {
    const device = describeDevice(event.data.device as { userAgent?: string; ip?: string; name?: string })
    return {
      subject: 'New sign-in to your account',
      text: `Your account was signed in to from a new device:\n\n  ${device}\n  at ${when}\n\nIf this was you, there is nothing to do. If not, open ${account} to end that session, and change your password.\n`,
    }
  }
  if (event.type === 'user.password_changed' && options.passwordChanged) {
    const how = event.data.how === 'reset' ? 'reset with a mailed link' : 'changed'
    const device = describeDevice(event.data.device as { userAgent?: string; ip?: string } | null | undefined)
    return {
      subject: 'Your password was changed',
      text: `The password of your account was ${how} from this device:\n\n  ${device}\n  at ${when}\n\nYour other sessions were signed out. If this was not you, reset your password now and review your sessions at ${account}.\n`,
    }
  }
  return null
}

/** Sends the mail for an event to the user's address (looked up by id; events carry no email). */
export async function sendSecurityMail(event: SecurityEvent, input: { options: SecurityMailOptions; publicUrl: string; users: UserStore; mailer: Mailer }): Promise<void> {
  const mail = securityMailFor(event, input.options, input.publicUrl)
  if (!mail) return
  const user = await input.users.findById(event.data.userId)
  if (!user) return
  await input.mailer.send({ to: user.email, ...mail })
}
