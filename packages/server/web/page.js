// What every view of the account page shares: the element lookup, which view
// is showing, and the two message lines (a polite notice, an assertive alert).
import { ApiError } from '/account/session.js'

/** The page's element with this id; every id the views use is in index.html. */
export const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id))

/** Shows one view (`view-signed-out`, `view-reset` or `view-signed-in`) and hides the others and the loading line. */
export function show(view) {
  $('loading').hidden = true
  for (const id of ['view-signed-out', 'view-reset', 'view-signed-in']) $(id).hidden = id !== view
  $('topbar-user').hidden = view !== 'view-signed-in'
}

/** Shows `text` as the notice (hiding any alert); an empty text hides it. */
export function say(text) {
  const el = $('notice')
  el.textContent = text
  el.hidden = !text
  if (text) $('alert').hidden = true
}

/** Shows `text` as the alert (hiding any notice); an empty text hides it. */
export function alertError(text) {
  const el = $('alert')
  el.textContent = text
  el.hidden = !text
  if (text) $('notice').hidden = true
}

export function clearMessages() {
  say('')
  alertError('')
}

/** A sentence for an API error: the server's detail, in words a person reads. */
export function explain(err) {
  if (!(err instanceof ApiError)) return 'Something went wrong. Check your connection and try again.'
  switch (err.code) {
    case 'ERR_INVALID_CREDENTIALS':
      return 'That email and password do not match. Try again, or reset your password.'
    case 'ERR_RATE_LIMITED':
      return 'Too many attempts. Wait a minute and try again.'
    case 'ERR_EMAIL_TAKEN':
      return 'An account with this email already exists. Sign in instead.'
    case 'ERR_WRONG_PASSWORD':
      return 'Your current password is not right.'
    case 'ERR_USER_BANNED':
      return 'This account is suspended.'
    case 'ERR_STORE_UNAVAILABLE':
    case 'ERR_DATABASE_UNAVAILABLE':
    case 'ERR_MAIL_UNAVAILABLE':
    case 'ERR_RATE_LIMITER_UNAVAILABLE':
      return 'The service is briefly unavailable. Try again in a moment.'
    default:
      return err.message.charAt(0).toUpperCase() + err.message.slice(1) + (/[.!?]$/.test(err.message) ? '' : '.')
  }
}
